"""pdfminer.six: a PDF path -> pages of text and document metadata. Pure and testable alone.

The text of each page is exactly what `pdfminer.high_level.extract_text` writes for it, so
joining the pages, each followed by a form feed, gives the same string as extract_text.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from io import StringIO
from pathlib import Path

from pdfminer.converter import TextConverter
from pdfminer.layout import LAParams
from pdfminer.pdfdocument import PDFDocument, PDFEncryptionError
from pdfminer.pdfexceptions import PDFNotImplementedError
from pdfminer.pdfinterp import PDFPageInterpreter, PDFResourceManager
from pdfminer.pdfpage import PDFPage
from pdfminer.pdfparser import PDFParser
from pdfminer.pdftypes import resolve1
from pdfminer.psexceptions import PSException
from pdfminer.utils import decode_text

from core.errors import Corrupt, Encrypted, NotAPdf, Unsupported
from core.pdf import MAGIC_WINDOW, looks_like_pdf

METADATA_FIELDS = (
    "Title",
    "Author",
    "Subject",
    "Keywords",
    "Creator",
    "Producer",
    "CreationDate",
    "ModDate",
)


@dataclass
class Page:
    number: int  # 1-based, as people count pages
    text: str

    @property
    def chars(self) -> int:
        return len(self.text)


@dataclass
class Extraction:
    pages: list[Page]
    metadata: dict[str, str]
    encrypted: bool
    seconds: float
    warnings: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        """The whole document as extract_text returns it: each page followed by a form feed."""
        return "".join(page.text + "\f" for page in self.pages)


def extract(
    path: Path | str,
    *,
    password: str = "",
    laparams: LAParams | None = None,
    pages: tuple[int, int] | None = None,
    on_page: Callable[[int, int], None] | None = None,
    layout: bool = True,
    page_numbers: frozenset[int] | None = None,
    max_pages: int = 0,
) -> Extraction:
    """Extract every page of the PDF at `path`; raise a pdfq error for files that cannot be read.

    `on_page(done, total)` is called after each page, for progress reporting. Job options
    (issue 5): `layout=False` skips layout analysis, `page_numbers` keeps only those pages
    (1-based), `max_pages` stops after that many pages with the warning `truncated`.
    `pages` (first, last), 1-based and inclusive, limits extraction to that range (a part of
    a page-parallel job, issue 7).
    """
    started = time.monotonic()
    with open(path, "rb") as fp:
        if not looks_like_pdf(fp.read(MAGIC_WINDOW)):
            raise NotAPdf()
        fp.seek(0)
        try:
            selection = PageSelection(page_numbers, max_pages, *(pages or (1, None)))
            params = (laparams or LAParams()) if layout else None
            pages, document = _extract_pages(fp, password, params, on_page, selection)
            metadata = _metadata(document)
        except PDFEncryptionError as exc:
            raise Encrypted(_describe(Encrypted.default_message, exc)) from exc
        except PDFNotImplementedError as exc:
            raise Unsupported(_describe(Unsupported.default_message, exc)) from exc
        except (
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
        ) as exc:
            # pdfminer signals malformed input with its own errors and, for fuzzed files,
            # with plain Python ones; either way the same bytes will fail the same way again.
            raise Corrupt(_describe(Corrupt.default_message, exc)) from exc

    return Extraction(
        pages=pages,
        metadata=metadata,
        encrypted=document.encryption is not None,
        seconds=time.monotonic() - started,
        warnings=text_warnings(pages, selection.truncated),
    )


def text_warnings(pages: list[Page], truncated: bool = False) -> list[str]:
    """The document-level warnings every engine gives: no text at all, pages left out."""
    warnings = [] if any(page.text.strip() for page in pages) else ["no_text_layer"]
    if truncated:
        warnings.append("truncated")
    return warnings


@dataclass
class PageSelection:
    """Which pages to extract: the job's choice (every page by default) within a part's range."""

    numbers: frozenset[int] | None = None
    max_pages: int = 0
    first: int = 1
    last: int | None = None
    truncated: bool = False

    def total(self, declared: int | None) -> int | None:
        last = declared if self.last is None else min(self.last, declared or self.last)
        count = None if last is None else max(0, last - self.first + 1)
        if self.numbers is not None:
            count = len(
                [n for n in self.numbers if n >= self.first and (last is None or n <= last)]
            )
        if self.max_pages and count is not None:
            count = min(count, self.max_pages)
        return count

    def wants(self, number: int, taken: int) -> bool | None:
        """True to extract page `number`, False to skip it, None to stop here."""
        if number < self.first:
            return False  # walking the page tree is cheap: only laid out pages cost
        if self.last is not None and number > self.last:
            return None
        if self.numbers is not None and number not in self.numbers:
            return None if number > max(self.numbers) else False
        if self.max_pages and taken >= self.max_pages:
            self.truncated = True
            return None
        return True


def _extract_pages(
    fp, password, laparams, on_page, selection: PageSelection | None = None
) -> tuple[list[Page], PDFDocument]:
    # The same objects, in the same order, as extract_text: pdfminer breaks ties in its layout
    # analysis by id(), so even allocation order can change which text box comes first.
    output = StringIO()
    resources = PDFResourceManager(caching=True)
    device = TextConverter(resources, output, codec="utf-8", laparams=laparams)
    interpreter = PDFPageInterpreter(resources, device)
    parser = PDFParser(fp)
    document = PDFDocument(parser, password=password, caching=True)
    selection = selection or PageSelection()
    total = selection.total(_page_count(document))
    pages, start = [], 0
    for number, pdf_page in enumerate(PDFPage.create_pages(document), start=1):
        wanted = selection.wants(number, len(pages))
        if wanted is None:
            break
        if not wanted:
            continue
        interpreter.process_page(pdf_page)
        end = output.tell()
        # TextConverter ends every page with a form feed; keep the page's text without it.
        pages.append(Page(number, output.getvalue()[start:end].removesuffix("\f")))
        start = end
        if on_page:
            on_page(len(pages), max(total or 0, len(pages)))
    return pages, document


def _page_count(document: PDFDocument) -> int | None:
    """The page tree's declared /Count (cheap: no page is parsed), or None if unreadable."""
    try:
        count = resolve1(resolve1(document.catalog["Pages"])["Count"])
    except Exception:  # a broken page tree fails again, with its real error, when walked
        return None
    return count if isinstance(count, int) and count >= 0 else None


def _metadata(document: PDFDocument) -> dict[str, str]:
    info: dict[str, str] = {}
    for entry in document.info:
        for name in METADATA_FIELDS:
            value = resolve1(entry.get(name))
            if isinstance(value, bytes):
                value = decode_text(value)
            if isinstance(value, str) and value.strip():
                info[name.lower()] = value.strip()
    return info


def _describe(message: str, exc: BaseException) -> str:
    detail = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
    return f"{message} ({type(exc).__name__}{': ' + detail if detail else ''})"
