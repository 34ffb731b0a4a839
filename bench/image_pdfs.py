"""An image-only test set for OCR: born-digital corpus pages rasterized into PDFs with no text
layer, and the word recall of OCR against pdfminer's text of the same pages.

    python -m bench.image_pdfs [FOLDER]   # write the set (default: a cache folder), list it

The PDFs are made when a test or `make bench` needs them, in a cache folder outside the
repository (they are large, and a script makes them again in seconds): each page is rendered
by PDFium at 300 dpi in grayscale and placed as one full-page image, so the PDF looks the
same and holds no text.
"""

from __future__ import annotations

import re
import sys
import tempfile
import unicodedata
from collections import Counter
from pathlib import Path

import pypdfium2 as pdfium
from pdfminer.high_level import extract_text

from tests.support.corpus import GOOD

DPI = 300
# Born-digital pages of running text from several producers (LaTeX, Word, Acrobat).
SAMPLE = [
    ("pdfjs_tracemonkey.pdf", 1),
    ("pdfminer_dmca.pdf", 2),
    ("pdfminer_naacl06-shinyama.pdf", 2),
    ("pdfjs_tracemonkey.pdf", 3),
    ("pymupdf_2201.00069.pdf", 1),
]
QUICK = SAMPLE[:3]
_WORD = re.compile(r"\w+")
_CID = re.compile(r"\(cid:\d+\)")  # pdfminer's placeholder for an unmapped glyph: no word


def cache_folder() -> Path:
    folder = Path(tempfile.gettempdir()) / "pdfq-image-pdfs"
    folder.mkdir(exist_ok=True)
    return folder


def image_only(source: Path, page: int, folder: Path, dpi: int = DPI) -> Path:
    """`source`'s page `page` (1-based) as a one-page image-only PDF in `folder` (made once)."""
    out = folder / f"{source.stem}-p{page}-{dpi}dpi.pdf"
    if out.exists():
        return out
    document = pdfium.PdfDocument(str(source))
    made = pdfium.PdfDocument.new()
    try:
        original = document[page - 1]
        width, height = original.get_size()
        bitmap = original.render(scale=dpi / 72, grayscale=True)
        target = made.new_page(width, height)
        image = pdfium.PdfImage.new(made)
        image.set_bitmap(bitmap)
        image.set_matrix(pdfium.PdfMatrix().scale(width, height))
        target.insert_obj(image)
        target.gen_content()
        partial = out.with_suffix(".part")
        made.save(str(partial))
        partial.replace(out)  # never a half-written file in the cache
    finally:
        made.close()
        document.close()
    return out


def words(text: str) -> Counter:
    """The bag of words: NFKC (ligatures such as ﬁ become fi), lower case, \\w+ runs, no
    (cid:NN) placeholders."""
    return Counter(_WORD.findall(unicodedata.normalize("NFKC", _CID.sub(" ", text)).lower()))


def word_recall(reference: str, found: str) -> float:
    """The share of the reference's words (with their counts) that `found` has too."""
    want, got = words(reference), words(found)
    total = sum(want.values())
    return sum(min(count, got[word]) for word, count in want.items()) / total if total else 1.0


def reference_text(source: Path, page: int) -> str:
    """pdfminer's text of the born-digital page: what OCR of its image should find."""
    return extract_text(source, page_numbers=[page - 1])


def build(folder: Path, sample=SAMPLE) -> list[tuple[Path, int, Path]]:
    """(source, page, image-only PDF) for every page of the sample."""
    return [(GOOD / name, page, image_only(GOOD / name, page, folder)) for name, page in sample]


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else cache_folder()
    target.mkdir(parents=True, exist_ok=True)
    for source, page, made in build(target):
        print(f"{made}  ({source.name} page {page}, {made.stat().st_size // 1024} KiB)")
