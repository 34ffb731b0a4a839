"""OCR: the `ocr` engine (every page read from its image) and the fallback other engines get
under `ocr=auto` (only the pages that came out without text are read from their image).

Options it reads (resolved by core/jobs/options.for_engine): `ocr` (all | auto | off),
`ocr_languages` (Tesseract's, or `auto`: engines/languages.py picks them among those
installed, from the text layer's language or each OCRed page's, `ocr_fallback` first),
`ocr_dpi`, `ocr_tessdata`. Pages are opened and rendered by PDFium, so
page numbers, passwords and errors behave as in the pdfium engine. A page OCR fails on keeps
the text it had (its text layer, or nothing) with the warning `ocr_failed`.

One call OCRs at most `max_pages` pages (MAX_OCR_PAGES, shared out among a job's parts): the
`ocr` engine refuses more with `too_many_pages` before reading any, and `ocr=auto` reads the
first ones and leaves the others as their text layer left them, with `ocr_capped`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

import pypdfium2 as pdfium

from core import ocr_support
from core.errors import PdfqError, TooManyPages
from engines import languages, ocr_pages, pdfium_engine
from engines.base import (
    Extraction,
    Page,
    document_warnings,
    text_warnings,
    wants_structure,
)

log = logging.getLogger("pdfq.engines")
page_count = pdfium_engine.page_count
FAILED = "ocr_failed"
AUTO = "auto"  # ocr_languages: from the document's language, or each page's script
CAPPED = "ocr_capped"


def extract(
    path: Path | str,
    *,
    password: str = "",
    pages: tuple[int, int] | None = None,
    on_page: Callable[[int, int], None] | None = None,
    options: dict | None = None,
    on_ocr: Callable[[int], None] | None = None,
    max_pages: int = 0,
) -> Extraction:
    """OCR every selected page of `path` (or of the range `pages`), at most `max_pages`
    (0: no limit) or none."""
    options = options or {}
    started = time.monotonic()
    base = pdfium_engine.extract(path, password=password, pages=pages, options=options)
    numbers = [page.number for page in base.pages]
    if max_pages and len(numbers) > max_pages:
        raise TooManyPages(over_limit(len(numbers), max_pages))
    if on_ocr:
        on_ocr(len(numbers))
    hint = _hint(base.pages)
    found = _overlay(base.pages, _read(path, password, numbers, options, on_page, hint))
    return Extraction(
        pages=found,
        metadata=base.metadata,
        encrypted=base.encrypted,
        seconds=time.monotonic() - started,
        warnings=_warnings(found, base.warnings),
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
    on_step: Callable[[], None] | None = None,
    max_pages: int = 0,
) -> Extraction:
    """`ocr=auto`: OCR the pages of `extraction` that have no text, keep the others as they
    are. A document in which the text engine found no page at all, but PDFium does (a scan
    with a broken cross-reference table), is OCRed whole. At most `max_pages` pages (0: no
    limit) are read, the first ones; on_step() after each."""
    blank = [page.number for page in extraction.pages if not page.text.strip()]
    whole = not extraction.pages and not pages and not options.get("pages")
    if not blank and not whole:
        return extraction
    started = time.monotonic()
    if whole:
        try:
            base = pdfium_engine.extract(path, password=password, options=options)
        except PdfqError as exc:  # PDFium cannot read it either: nothing to OCR
            log.info("no pages to OCR: %s", exc.message)
            return extraction
        extraction.pages = base.pages
        blank = [page.number for page in base.pages]
        if not blank:
            return extraction
    capped = bool(max_pages) and len(blank) > max_pages
    if capped:
        blank = blank[:max_pages]
    if on_ocr:
        on_ocr(len(blank))
    hint = _hint(extraction.pages)
    stepped = (lambda _done, _of: on_step()) if on_step else None
    read = _read(path, password, blank, options, stepped, hint)
    extraction.pages = _overlay(extraction.pages, read)
    extraction.warnings = _warnings(extraction.pages, extraction.warnings) + (
        [CAPPED] if capped else []
    )
    extraction.seconds += time.monotonic() - started
    return extraction


def over_limit(pages: int, limit: int) -> str:
    """Why a job that would OCR `pages` pages is refused."""
    return (
        f"OCR of {pages} pages is over the {limit}-page limit of one job (MAX_OCR_PAGES); "
        "select fewer pages with the pages or max_pages option."
    )


def _warnings(pages: list[Page], earlier: list[str]) -> list[str]:
    return text_warnings(pages, "truncated" in earlier) + document_warnings(earlier)


def _overlay(pages: list[Page], read: dict[int, Page | None]) -> list[Page]:
    """`pages` with each OCRed one replaced by its OCR; one that OCR failed on (None) kept,
    with the warning."""
    found = []
    for page in pages:
        if page.number not in read:
            found.append(page)
        elif read[page.number] is None:
            found.append(Page(page.number, page.text, page.ocr, page.blocks, [FAILED]))
        else:
            found.append(read[page.number])
    return found


def _hint(pages) -> str:
    """Text of the document's text layer, to tell `ocr_languages=auto` its language."""
    held, size = [], 0
    for page in pages:
        if page.text.strip() and size < languages.SAMPLE_CHARS:
            held.append(page.text)
            size += len(page.text)
    return "\n".join(held)[: languages.SAMPLE_CHARS]


def _read(path, password, numbers, options, on_page, hint="") -> dict[int, Page | None]:
    """Page number -> its OCRed Page, or None where OCR failed (every page, when OCR cannot
    start or PDFium cannot open the file). With `ocr_languages=auto`, the languages are the
    text layer's (`hint`) when it has enough text; else each page is read with the fallback
    languages, then again with its own where its text says they are others."""
    spec = options.get("ocr_languages", "eng")
    if spec != AUTO:
        return _read_with(path, password, numbers, options, on_page, spec)
    fallback = options.get("ocr_fallback") or "eng"
    installed = ocr_support.languages(options["ocr_tessdata"])
    if languages.page_language(hint):
        chosen = languages.tesseract_languages(hint, installed, fallback)
        return _read_with(path, password, numbers, options, on_page, chosen)
    first = _read_with(path, password, numbers, options, on_page, fallback)
    again: dict[str, list[int]] = {}
    for number, page in first.items():
        if page is not None and page.text.strip():
            chosen = languages.tesseract_languages(page.text, installed, fallback)
            if chosen != fallback:
                again.setdefault(chosen, []).append(number)
    for chosen, subset in again.items():
        for number, page in _read_with(path, password, subset, options, None, chosen).items():
            if page is not None:
                first[number] = page
    return first


def _read_with(path, password, numbers, options, on_page, spec: str) -> dict[int, Page | None]:
    done: dict[int, Page | None] = {}

    def progress(number: int, page: Page | None):
        done[number] = page
        if on_page:
            on_page(len(done), len(numbers))

    try:
        document = pdfium.PdfDocument(str(path), password=password or None)
    except pdfium.PdfiumError as exc:
        log.warning("OCR of %d pages failed: %s", len(numbers), exc)
        return dict.fromkeys(numbers)
    try:
        ocr_pages.read(
            document,
            numbers,
            languages=spec,
            tessdata=options["ocr_tessdata"],
            dpi=options.get("ocr_dpi", 300),
            structure=wants_structure(options),
            on_page=progress,
        )
    except PdfqError as exc:  # OCR cannot run here (its data missing on this worker)
        log.warning("OCR of %d pages failed: %s", len(numbers), exc.message)
    finally:
        document.close()
    return {number: done.get(number) for number in numbers}
