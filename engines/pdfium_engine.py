"""PDFium (pypdfium2): the same Extraction as pdfminer's engine, many times faster.

PDFium's text is not pdfminer's: it keeps the characters in content-stream order with line
breaks as PDFium finds them, with no layout analysis. The result format (pages, text,
metadata, warnings) is the same, so a client reads either engine's result the same way.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c

from core.errors import Corrupt, Encrypted, NotAPdf
from core.jobs.pdfcheck import MAGIC_WINDOW, looks_like_pdf
from engines import page_tree
from engines.base import (
    METADATA_FIELDS,
    Extraction,
    Page,
    PageSelection,
    text_warnings,
    wants_structure,
)

FEW_PAGES = 16  # a claimed count up to this is believed without walking the tree

# A document counted with keep=True, left open for the extraction that follows in the same
# process: (path, password) -> (document, its count, the pages the count loaded). Loading
# a page parses its content, about what extracting its text costs, so a one-page document
# counted and then extracted is loaded once, not three times.
_kept: dict[tuple[str, str], tuple[pdfium.PdfDocument, int, dict[int, pdfium.PdfPage]]] = {}


def forget():
    """Close whatever a count kept open and no extraction took (a request that failed)."""
    while _kept:
        _close(*_kept.popitem()[1][::2])


def _close(document: pdfium.PdfDocument, loaded: dict[int, pdfium.PdfPage]):
    for page in loaded.values():
        page.close()
    document.close()


def page_count(path: Path | str, password: str = "", keep: bool = False) -> int:
    """The number of pages the page tree really holds (milliseconds even for long documents).

    PDFium believes the tree's /Count, which a PDF may inflate at will: the count is checked
    by loading its last page, and when that fails, by bisecting for the last page that loads.
    PDFium also reads a node each time the tree lists it, so the count is never more than
    the distinct page objects (engines/page_tree.py): a tree that lists one page a million
    times is one page, not a million.

    With `keep`, the open document and the page the check loaded wait for this process's
    next `extract` of the same path (or `forget`).
    """
    document = _open(path, password)
    loaded: dict[int, pdfium.PdfPage] = {}
    try:
        count = _count(document, path, password, loaded=loaded if keep else None)
    except BaseException:
        _close(document, loaded)
        raise
    if keep:
        forget()
        _kept[(str(path), password)] = (document, count, loaded)
    else:
        _close(document, loaded)
    return count


def _count(
    document: pdfium.PdfDocument,
    path: Path | str,
    password: str,
    distinct=True,
    loaded: dict[int, pdfium.PdfPage] | None = None,
) -> int:
    declared = len(document)
    # A tree that claims few pages costs few pages however often it lists them: the walk
    # (pdfminer parsing the file, a millisecond or more) is for claims that could cost more.
    walk = distinct and declared > FEW_PAGES
    found = page_tree.distinct_pages(path, password, limit=declared) if walk else None
    if found is not None:
        declared = min(declared, found)
    if declared == 0 or _loads(document, declared - 1, loaded):
        return declared
    found, missing = 0, declared - 1  # pages [0, found) load; page `missing` does not
    while found < missing:
        middle = (found + missing) // 2
        if _loads(document, middle):
            found = middle + 1
        else:
            missing = middle
    return found


def _loads(
    document: pdfium.PdfDocument, index: int, loaded: dict[int, pdfium.PdfPage] | None = None
) -> bool:
    """Whether page `index` loads; kept in `loaded` when given, else closed again."""
    try:
        page = document[index]
    except pdfium.PdfiumError:
        return False
    if loaded is None:
        page.close()
    else:
        loaded[index] = page
    return True


def extract(
    path: Path | str,
    *,
    password: str = "",
    pages: tuple[int, int] | None = None,
    on_page: Callable[[int, int], None] | None = None,
    options: dict | None = None,
) -> Extraction:
    """Extract the pages of `path` (all, or the 1-based inclusive range `pages`) that the
    job's options select (`pages`, `max_pages`; PDFium has no layout analysis to tune)."""
    started = time.monotonic()
    with open(path, "rb") as fp:
        if not looks_like_pdf(fp.read(MAGIC_WINDOW)):
            raise NotAPdf()
    document, total, loaded = _kept.pop((str(path), password), None) or (None, None, {})
    document = document or _open(path, password)
    try:
        if total is None:
            # A range (a part) lies within a count already taken: the tree is not walked again.
            total = _count(document, path, password, distinct=pages is None)
        first, last = pages or (1, total)
        selection = PageSelection.of(options, (first, last))
        wanted_total = selection.total(total) or 0
        result = []
        for number in range(first, min(last, total) + 1):
            wanted = selection.wants(number, len(result))
            if wanted is None:
                break
            if not wanted:
                continue
            page = loaded.pop(number - 1, None)
            page = document[number - 1] if page is None else page
            textpage = page.get_textpage()
            try:
                # PDFium ends lines with \r\n; pdfminer (and most readers) use \n.
                text = textpage.get_text_range().replace("\r\n", "\n").replace("\r", "\n")
            finally:
                textpage.close()
                page.close()
            result.append(Page(number, text))
            if on_page:
                on_page(len(result), max(wanted_total, len(result)))
        metadata = _metadata(document)
        encrypted = _encrypted(document)
        wanted = first == 1 and wants_structure(options)
        outline, failed = _outline(document) if wanted else ([], [])
    except pdfium.PdfiumError as exc:
        raise Corrupt(f"{Corrupt.default_message} (PDFium: {exc})") from exc
    finally:
        _close(document, loaded)
    return Extraction(
        pages=result,
        metadata=metadata,
        encrypted=encrypted,
        seconds=time.monotonic() - started,
        warnings=text_warnings(result, selection.truncated) + failed,
        outline=outline,
    )


def _open(path: Path | str, password: str) -> pdfium.PdfDocument:
    try:
        return pdfium.PdfDocument(str(path), password=password or None)
    except pdfium.PdfiumError as exc:
        if exc.err_code == pdfium_c.FPDF_ERR_PASSWORD:
            raise Encrypted() from exc
        raise Corrupt(f"{Corrupt.default_message} (PDFium: {exc})") from exc


def _metadata(document: pdfium.PdfDocument) -> dict[str, str]:
    found = document.get_metadata_dict(skip_empty=True)
    return {
        name.lower(): found[name].strip()
        for name in METADATA_FIELDS
        if isinstance(found.get(name), str) and found[name].strip()
    }


def outline(path: Path | str, password: str = "") -> tuple[list[dict], list[str]]:
    """(the outline of the PDF at `path`, warnings), for engines that cannot resolve its
    pages: an outline PDFium cannot read is [] with `outline_failed` (an outline is an
    extra: the text is what a job is for)."""
    try:
        document = pdfium.PdfDocument(str(path), password=password or None)
    except pdfium.PdfiumError:
        return [], ["outline_failed"]
    try:
        return _outline(document)
    finally:
        document.close()


def _outline(document: pdfium.PdfDocument) -> tuple[list[dict], list[str]]:
    try:
        return outline_of(document), []
    except MemoryError:
        raise
    except Exception:  # noqa: BLE001 - whatever broke the outline leaves the text alone
        return [], ["outline_failed"]


def outline_of(document: pdfium.PdfDocument, max_items: int = 2000) -> list[dict]:
    """The outline (bookmarks) as [{"level": 1.., "title", "page": 1.. or None}]."""
    found = []
    for item in document.get_toc(max_depth=16):
        if len(found) >= max_items:
            break
        title = (item.get_title() or "").strip()
        if title:
            index = item.get_dest().get_index() if item.get_dest() else None
            found.append({"level": item.level + 1, "title": title, "page": _page(index)})
    return found


def _page(index: int | None) -> int | None:
    return None if index is None else index + 1


def _encrypted(document: pdfium.PdfDocument) -> bool:
    return pdfium_c.FPDF_GetSecurityHandlerRevision(document) != -1
