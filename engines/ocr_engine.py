"""OCR: the `ocr` engine (every page read from its image) and the fallback other engines get
under `ocr=auto` (only the pages that came out without text are read from their image).

Options it reads (resolved by core/jobs/options.for_engine): `ocr` (all | auto | off),
`ocr_languages`, `ocr_dpi`, `ocr_tessdata`. Pages are opened and rendered by PDFium, so
page numbers, passwords and errors behave as in the pdfium engine.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

import pypdfium2 as pdfium

from core.errors import PdfqError
from engines import ocr_pages, pdfium_engine
from engines.base import Extraction, Page, text_warnings

log = logging.getLogger("pdfq.engines")
page_count = pdfium_engine.page_count


def extract(
    path: Path | str,
    *,
    password: str = "",
    pages: tuple[int, int] | None = None,
    on_page: Callable[[int, int], None] | None = None,
    options: dict | None = None,
    on_ocr: Callable[[int], None] | None = None,
) -> Extraction:
    """OCR every selected page of `path` (or of the range `pages`)."""
    options = options or {}
    started = time.monotonic()
    base = pdfium_engine.extract(path, password=password, pages=pages, options=options)
    numbers = [page.number for page in base.pages]
    if on_ocr:
        on_ocr(len(numbers))
    found = _read(path, password, numbers, options, on_page)
    return Extraction(
        pages=found,
        metadata=base.metadata,
        encrypted=base.encrypted,
        seconds=time.monotonic() - started,
        warnings=text_warnings(found, "truncated" in base.warnings),
        outline=base.outline,
    )


def fill_blank_pages(
    path: Path | str,
    extraction: Extraction,
    *,
    password: str = "",
    pages: tuple[int, int] | None = None,
    options: dict,
    on_ocr: Callable[[int], None] | None = None,
) -> Extraction:
    """`ocr=auto`: OCR the pages of `extraction` that have no text, keep the others as they
    are. A document in which the text engine found no page at all, but PDFium does (a scan
    with a broken cross-reference table), is OCRed whole."""
    blank = [page.number for page in extraction.pages if not page.text.strip()]
    whole = not extraction.pages and not pages and not options.get("pages")
    if not blank and not whole:
        return extraction
    started = time.monotonic()
    try:
        if whole:
            base = pdfium_engine.extract(path, password=password, options=options)
            blank = [page.number for page in base.pages]
            extraction.pages = base.pages
            if not blank:
                return extraction
        if on_ocr:
            on_ocr(len(blank))
        read = {page.number: page for page in _read(path, password, blank, options, None)}
    except (PdfqError, pdfium.PdfiumError) as exc:
        # OCR cannot run here (its data missing on this worker) or PDFium cannot read what
        # pdfminer could: the text stays as the text engine found it, with its warning.
        log.warning("OCR of %d pages failed: %s: %s", len(blank), type(exc).__name__, exc)
        return extraction
    extraction.pages = [read.get(page.number, page) for page in extraction.pages]
    extraction.warnings = text_warnings(extraction.pages, "truncated" in extraction.warnings)
    extraction.seconds += time.monotonic() - started
    return extraction


def _read(path, password, numbers, options, on_page) -> list[Page]:
    done: list[Page] = []

    def progress(page: Page):
        done.append(page)
        if on_page:
            on_page(len(done), len(numbers))

    document = pdfium.PdfDocument(str(path), password=password or None)
    try:
        return ocr_pages.read(
            document,
            numbers,
            languages=options.get("ocr_languages", "eng"),
            tessdata=options["ocr_tessdata"],
            dpi=options.get("ocr_dpi", 300),
            on_page=progress,
        )
    finally:
        document.close()
