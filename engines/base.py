"""What every engine shares: the interface, the result types and the page selection.

An engine module provides:

    page_count(path, password="") -> int
    extract(path, *, password="", pages=None, on_page=None, options=None) -> Extraction

`pages` is a 1-based inclusive (first, last) range (one part of a page-parallel job), `on_page`
is called with (pages done, pages expected) after each page, and `options` are the job's
stored options (core/jobs/options.py): each engine applies those it understands. Errors are
pdfq's (core/errors.py): Encrypted, Corrupt, Unsupported, NotAPdf.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

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
    # Set when the text came from OCR: {"engine", "engine_version", "confidence", "languages"}.
    ocr: dict | None = None
    # The page's text blocks in reading order (see engines/layout_blocks.py); None when the
    # engine has no layout to give (PDFium).
    blocks: list[dict] | None = None

    @property
    def chars(self) -> int:
        return len(self.text)

    def record(self) -> dict:
        """The page as JSON: how it crosses the sandbox and is kept in part objects."""
        return {"page": self.number, "text": self.text, "ocr": self.ocr, "blocks": self.blocks}

    @classmethod
    def from_record(cls, item: dict) -> Page:
        return cls(item["page"], item["text"], item.get("ocr"), item.get("blocks"))


class PageFile:
    """Pages kept in a JSON-lines file (one Page.record() a line: text, OCR details, blocks),
    read one at a time: a long document's text never has to be held whole by the process
    that stores it."""

    def __init__(self, path: Path, count: int):
        self.path, self.count = path, count

    def __iter__(self) -> Iterator[Page]:
        with open(self.path, encoding="utf-8") as fp:
            for line in fp:
                yield Page.from_record(json.loads(line))

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, index):
        return list(self)[index]  # for tests and small documents; the pipeline iterates


def write_pages(pages: Iterable[Page], path: Path) -> tuple[int, int]:
    """Write `pages` to `path` as PageFile reads them; (pages, UTF-8 bytes of their text)."""
    count = size = 0
    with open(path, "w", encoding="utf-8") as fp:
        for page in pages:
            fp.write(json.dumps(page.record()) + "\n")
            count += 1
            size += len(page.text.encode("utf-8", "surrogatepass"))
    return count, size


@dataclass
class Extraction:
    pages: list[Page] | PageFile
    metadata: dict[str, str]
    encrypted: bool
    seconds: float
    warnings: list[str] = field(default_factory=list)
    # The PDF's outline (bookmarks): [{"level": 1.., "title"}], in document order.
    outline: list[dict] = field(default_factory=list)

    @property
    def chars(self) -> int:
        """len(self.text), counted page by page (each page and its form feed)."""
        return sum(page.chars + 1 for page in self.pages)

    @property
    def text(self) -> str:
        """The whole document as extract_text returns it: each page followed by a form feed."""
        return "".join(page.text + "\f" for page in self.pages)


OCR_WARNING = "ocr_pages:"  # followed by how many pages were OCRed


def text_warnings(pages: list[Page], truncated: bool = False) -> list[str]:
    """The document-level warnings every engine gives: no text at all, pages left out, how
    many pages OCR read."""
    warnings = [] if any(page.text.strip() for page in pages) else ["no_text_layer"]
    if truncated:
        warnings.append("truncated")
    ocred = sum(1 for page in pages if page.ocr)
    if ocred:
        warnings.append(f"{OCR_WARNING}{ocred}")
    return warnings


def page_numbers(spec: str | None) -> frozenset[int] | None:
    """The 1-based page numbers a (validated) 'pages' option such as '1-3,7' selects."""
    if not spec:
        return None
    numbers: set[int] = set()
    for part in spec.split(","):
        first, _, last = part.partition("-")
        numbers.update(range(int(first), int(last or first) + 1))
    return frozenset(numbers)


@dataclass
class PageSelection:
    """Which pages to extract: the job's choice (every page by default) within a part's range."""

    numbers: frozenset[int] | None = None
    max_pages: int = 0
    first: int = 1
    last: int | None = None
    truncated: bool = False

    @classmethod
    def of(cls, options: dict | None, pages: tuple[int, int] | None) -> PageSelection:
        """The selection a job's options and a part's page range make together."""
        options = options or {}
        first, last = pages or (1, None)
        return cls(page_numbers(options.get("pages")), options.get("max_pages", 0), first, last)

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
