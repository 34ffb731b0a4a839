"""One-page PDFs cut from the corpus's pages (row h): the invoices and letters a service gets
most, where storage round trips weigh most against ~50 ms of pdfminer."""

from __future__ import annotations

from pathlib import Path

from bench.harness import corpus


def make(folder: Path, count: int) -> list[Path]:
    """`count` one-page PDFs in `folder`, taking pages in turn from each corpus file (so
    every file's kind of page is there), each page at most once."""
    import pypdfium2 as pdfium

    sources = [pdfium.PdfDocument(str(path)) for path, _ in corpus(full=True)]
    made: list[Path] = []
    try:
        page = 0
        while len(made) < count:
            took = False
            for index, source in enumerate(sources):
                if page >= len(source) or len(made) >= count:
                    continue
                single = pdfium.PdfDocument.new()
                single.import_pages(source, [page])
                path = folder / f"p{index:02d}_{page:04d}.pdf"
                single.save(str(path))
                single.close()
                made.append(path)
                took = True
            if not took:
                raise ValueError(f"the corpus has fewer than {count} pages")
            page += 1
    finally:
        for source in sources:
            source.close()
    return made
