"""pdfminer.six, the default engine: pages laid out exactly as `extract_text` lays them out.

The text of each page is exactly what `pdfminer.high_level.extract_text` writes for it, so
joining the pages, each followed by a form feed, gives the same string as extract_text. The
job options `layout` (False skips layout analysis) and `laparams` tune that analysis.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from io import StringIO
from pathlib import Path

from pdfminer.converter import TextConverter
from pdfminer.layout import LAParams
from pdfminer.pdfdocument import PDFDocument, PDFEncryptionError, PDFPasswordIncorrect
from pdfminer.pdfexceptions import PDFNotImplementedError
from pdfminer.pdfinterp import PDFPageInterpreter, PDFResourceManager
from pdfminer.pdfpage import PDFPage
from pdfminer.pdfparser import PDFParser
from pdfminer.pdftypes import resolve1
from pdfminer.psexceptions import PSException

from core.errors import Corrupt, Encrypted, NotAPdf, Unsupported
from core.jobs.pdfcheck import MAGIC_WINDOW, looks_like_pdf
from engines import page_tree, pdf_values, pdfium_engine
from engines.base import (
    METADATA_FIELDS,
    Extraction,
    Page,
    PageSelection,
    text_warnings,
    wants_structure,
)
from engines.layout_blocks import BlockConverter

# pdfminer signals malformed input with its own errors and, for fuzzed files, with plain
# Python ones; either way the same bytes will fail the same way again.
_MALFORMED = (
    PSException,
    RecursionError,
    ValueError,
    TypeError,
    KeyError,
    IndexError,
    AttributeError,
    AssertionError,
    EOFError,
    ArithmeticError,
)


UNSUPPORTED_ENCRYPTION = (
    "The PDF is encrypted with a scheme pdfminer.six does not support; a password will not "
    "help (the pdfium engine may open it)."
)


def page_count(
    path: Path | str, password: str = "", *, document: str | None = None, most: int = 0
) -> int:
    """The number of pages, by walking the page tree (no page is laid out). The walk of
    distinct page objects as PDFium sees them (engines/page_tree.py) is taken from the same
    parse, for `ocr=auto` to read where pdfminer finds no page. With `document` (a name, as
    `extract` takes it), the document stays open, its pages found, for the ranges read next;
    only `most` + 1 of them are kept, and counted: a count over `most` says only that."""
    if document:
        with _errors():
            try:
                kept = _kept_open(path, document, password)
                found = len(kept.upto(most + 1 if most else None))
            except BaseException:
                forget()
                raise
            if not found:
                page_tree.distinct_pages(path, password, document=kept.document)
            return found
    with open(path, "rb") as fp, _errors():
        parsed = PDFDocument(PDFParser(fp), password=password)
        found = sum(1 for _ in PDFPage.create_pages(parsed))
        if not found:
            page_tree.distinct_pages(path, password, document=parsed)
        return found


def extract(
    path: Path | str,
    *,
    password: str = "",
    pages: tuple[int, int] | None = None,
    on_page: Callable[[int, int], None] | None = None,
    options: dict | None = None,
    document: str | None = None,
) -> Extraction:
    """Extract the pages of the PDF at `path` (all, or the range `pages`) that the job's
    options select; raise a pdfq error for files that cannot be read.

    `document` names the file's bytes (the same name, the same bytes, whatever the path): a
    range of a document kept open from an earlier range under that name reads it from
    there, though this copy of the file lies elsewhere."""
    options = options or {}
    started = time.monotonic()
    selection = PageSelection.of(options, pages)
    laparams = LAParams(**options.get("laparams", {})) if options.get("layout", True) else None
    structure = wants_structure(options)
    with open(path, "rb") as fp:
        if not looks_like_pdf(fp.read(MAGIC_WINDOW)):
            raise NotAPdf()
        fp.seek(0)
        with _errors():
            if pages is None:
                found, opened = _extract_pages(
                    fp, password, laparams, on_page, selection, structure
                )
            else:
                found, opened = _extract_range(
                    path, document, password, laparams, on_page, selection, structure
                )
            metadata = _metadata(opened)
    # The outline is PDFium's (it resolves each entry's page); only the first range reads it.
    wanted = structure and selection.first == 1
    outline, failed = pdfium_engine.outline(path, password) if wanted else ([], [])
    return Extraction(
        pages=found,
        metadata=metadata,
        encrypted=opened.encryption is not None,
        seconds=time.monotonic() - started,
        warnings=text_warnings(found, selection.truncated) + failed,
        outline=outline,
    )


@contextlib.contextmanager
def _errors():
    """pdfminer's exceptions as pdfq's: encrypted, unsupported, corrupt."""
    try:
        yield
    except PDFPasswordIncorrect as exc:
        raise Encrypted(_describe(Encrypted.default_message, exc)) from exc
    except PDFEncryptionError as exc:
        # Any other encryption error is a scheme pdfminer cannot apply (an unknown security
        # handler, revision or crypt filter): no password would open it.
        raise Unsupported(_describe(UNSUPPORTED_ENCRYPTION, exc)) from exc
    except PDFNotImplementedError as exc:
        raise Unsupported(_describe(Unsupported.default_message, exc)) from exc
    except _MALFORMED as exc:
        raise Corrupt(_describe(Corrupt.default_message, exc)) from exc


def _extract_pages(
    fp, password, laparams, on_page, selection: PageSelection, structure: bool
) -> tuple[list[Page], PDFDocument]:
    # The same objects, in the same order, as extract_text: pdfminer breaks ties in its layout
    # analysis by id(), so even allocation order can change which text box comes first.
    output = StringIO()
    resources = PDFResourceManager(caching=True)
    converter = BlockConverter if structure else TextConverter
    device = converter(resources, output, codec="utf-8", laparams=laparams)
    interpreter = PDFPageInterpreter(resources, device)
    parser = PDFParser(fp)
    document = PDFDocument(parser, password=password, caching=True)
    walk = PDFPage.create_pages(document)
    return _lay_out(walk, document, interpreter, device, output, on_page, selection), document


def _lay_out(
    walk, document, interpreter, device, output: StringIO, on_page, selection: PageSelection
) -> list[Page]:
    """The selected pages of `walk` (the page tree's pages, in order) laid out one by one."""
    structure = isinstance(device, BlockConverter)
    total = selection.total(_declared_count(document))
    pages, start = [], 0
    for number, pdf_page in enumerate(walk, start=1):
        wanted = selection.wants(number, len(pages))
        if wanted is None:
            break
        if not wanted:
            continue
        interpreter.process_page(pdf_page)
        end = output.tell()
        # TextConverter ends every page with a form feed; keep the page's text without it.
        text = output.getvalue()[start:end].removesuffix("\f")
        if structure:
            pages.append(Page(number, text, blocks=device.blocks, warnings=device.warnings))
        else:
            pages.append(Page(number, text))
        start = end
        if on_page:
            on_page(len(pages), max(total or 0, len(pages)))
    return pages


class _Kept:
    """A document left open between the page ranges of one job that this process reads one
    after another: parsed once, its page tree walked once (to the last page asked for so
    far), its fonts read once. Each range opened the file again and walked the tree from
    its first page, about 40 ms a range of a 352-page book, most of it for the last ones."""

    def __init__(self, key: tuple, path: Path | str, password: str):
        self.key = key
        self.fp = open(path, "rb")  # noqa: SIM115 - open until forget()
        try:
            self.document = PDFDocument(PDFParser(self.fp), password=password, caching=True)
        except BaseException:
            self.fp.close()
            raise
        self.resources = PDFResourceManager(caching=True)
        self.walk = PDFPage.create_pages(self.document)
        self.pages: list[PDFPage] = []

    def upto(self, last: int | None) -> list[PDFPage]:
        """Pages 1..last (every page for None; fewer if the tree holds fewer)."""
        while last is None or len(self.pages) < last:
            page = next(self.walk, None)
            if page is None:
                break
            self.pages.append(page)
        return self.pages


_kept: _Kept | None = None


def keeps_open() -> bool:
    """Whether a document is kept open for the next range."""
    return _kept is not None


def forget():
    """Close the document kept open for the next range (another document's turn, or a
    request that failed)."""
    global _kept
    if _kept is not None:
        _kept.fp.close()
        _kept = None


def _kept_open(path: Path | str, document: str | None, password: str) -> _Kept:
    global _kept
    if document:
        key = ("named", document, password)
    else:
        found = Path(path).stat()
        key = (str(path), password, found.st_ino, found.st_size, found.st_mtime_ns)
    if _kept is None or _kept.key != key:
        forget()
        _kept = _Kept(key, path, password)
    return _kept


def _extract_range(
    path, document, password, laparams, on_page, selection: PageSelection, structure: bool
) -> tuple[list[Page], PDFDocument]:
    """A part's range, from the document this process keeps open between ranges; its pages
    as `_extract_pages` lays them out (each page is laid out alone)."""
    try:
        kept = _kept_open(path, document, password)
        output = StringIO()
        converter = BlockConverter if structure else TextConverter
        device = converter(kept.resources, output, codec="utf-8", laparams=laparams)
        interpreter = PDFPageInterpreter(kept.resources, device)
        walk = kept.upto(selection.last)
        pages = _lay_out(walk, kept.document, interpreter, device, output, on_page, selection)
    except BaseException:
        forget()  # a document that failed is not read again from where it broke
        raise
    return pages, kept.document


def _declared_count(document: PDFDocument) -> int | None:
    """The page tree's declared /Count (cheap: no page is parsed), or None if unreadable.
    Used for progress only: the real count is what walking the tree finds."""
    try:
        count = resolve1(resolve1(document.catalog["Pages"])["Count"])
    except Exception:  # a broken page tree fails again, with its real error, when walked
        return None
    return count if isinstance(count, int) and count >= 0 else None


def _metadata(document: PDFDocument) -> dict[str, str]:
    info: dict[str, str] = {}
    for entry in document.info:
        if not isinstance(entry, dict):
            continue
        for name in METADATA_FIELDS:
            value = pdf_values.text(entry.get(name))
            if value:
                info[name.lower()] = value
    return info


def _describe(message: str, exc: BaseException) -> str:
    # pdfminer's encryption errors end with the whole encryption dictionary: left out.
    detail = str(exc).strip().partition(": param=")[0]
    detail = detail.splitlines()[0][:200] if detail else ""
    return f"{message} ({type(exc).__name__}{': ' + detail if detail else ''})"
