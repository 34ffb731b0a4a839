"""What every engine shares: the interface, the result types and the page selection.

An engine module provides:

    page_count(path, password="") -> int
    extract(path, *, password="", pages=None, on_page=None, options=None) -> Extraction

`pages` is a 1-based inclusive (first, last) range (one part of a page-parallel job), `on_page`
is called with (pages done, pages expected) after each page, and `options` are the job's
stored options (core/jobs/options.py): each engine applies those it understands. Errors are
pdfq's (core/errors.py): Encrypted, Corrupt, Unsupported, NotAPdf.

Structure never costs text: text blocks, the outline, a page's Markdown and OCR are extras,
and a failure in one of them leaves the page's text as it is, with a warning on the page and
on the job (STRUCTURE_WARNINGS). They are computed only when the job's `outputs` ask for
them (wants_structure).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from core.jobs import structure

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
    # engine has no layout to give (PDFium), the job asked for no structure, or they failed.
    blocks: list[dict] | None = None
    # What went wrong with the page's extras (STRUCTURE_WARNINGS); its text is whole.
    warnings: list[str] = field(default_factory=list)
    # The page's tables (engines/tables.py); None when the job asked for none.
    tables: list[dict] | None = None
    # The page's language {"code", "confidence"} (engines/languages.py; "und" when its text
    # cannot tell); None when the job asked for none.
    language: dict | None = None

    @property
    def chars(self) -> int:
        return len(self.text)

    def record(self) -> dict:
        """The page as JSON: how it crosses the sandbox and is kept in part objects."""
        found = {"page": self.number, "text": self.text, "ocr": self.ocr, "blocks": self.blocks}
        if self.warnings:
            found["warnings"] = self.warnings
        if self.tables is not None:
            found["tables"] = self.tables
        if self.language is not None:
            found["language"] = self.language
        return found

    @classmethod
    def from_record(cls, item: dict) -> Page:
        return cls(
            item["page"],
            item["text"],
            item.get("ocr"),
            item.get("blocks"),
            item.get("warnings", []),
            item.get("tables"),
            item.get("language"),
        )


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
# A page's extras that failed, its text kept: on the page and on the job.
STRUCTURE_WARNINGS = ("blocks_failed", "markdown_failed", "ocr_failed", "tables_failed")
# The document's own: its metadata cut to the caps, its outline unreadable, OCR stopped at
# its page limit.
DOCUMENT_WARNINGS = ("metadata_truncated", "outline_failed", "ocr_capped")
STRUCTURE_OUTPUTS = ("blocks", "markdown", "chunks")


def text_warnings(pages: Iterable[Page], truncated: bool = False) -> list[str]:
    """The warnings every engine gives from its pages: no text at all, pages left out, how
    many pages OCR read, and what failed on any page."""
    found, ocred, texty = set(), 0, False
    for page in pages:
        texty = texty or bool(page.text.strip())
        ocred += bool(page.ocr)
        found.update(page.warnings)
    warnings = [] if texty else ["no_text_layer"]
    if truncated:
        warnings.append("truncated")
    if ocred:
        warnings.append(f"{OCR_WARNING}{ocred}")
    return warnings + [name for name in STRUCTURE_WARNINGS if name in found]


def document_warnings(warnings: Iterable[str]) -> list[str]:
    """The warnings of `warnings` that are the document's, not its pages'."""
    return [name for name in warnings if name in DOCUMENT_WARNINGS]


def wants_structure(options: dict | None) -> bool:
    """Whether the job's `outputs` ask for text blocks or Markdown (which is made from them).
    A job that names no outputs gets its text and pages only: no layout pass, no outline."""
    outputs = (options or {}).get("outputs") or ()
    return any(name in outputs for name in STRUCTURE_OUTPUTS)


def wants_tables(options: dict | None) -> bool:
    """Whether the job's `outputs` ask for tables (never for a job that names no outputs)."""
    return "tables" in ((options or {}).get("outputs") or ())


def wants_languages(options: dict | None) -> bool:
    """Whether the job's `outputs` ask for its languages (never for one that names none)."""
    return "languages" in ((options or {}).get("outputs") or ())


def checked_blocks(
    number: int, make: Callable[[], list[dict]]
) -> tuple[list[dict] | None, list[str]]:
    """(page `number`'s blocks, its warnings): the blocks `make` builds, with their values
    made safe for JSON and Markdown, and tried through the page's Markdown; None and the
    failure's warning when either step raises. The text is never touched."""
    try:
        blocks = [_safe_block(block) for block in make()]
    except MemoryError:
        raise
    except Exception:  # noqa: BLE001 - blocks are an extra: the page keeps its text
        return None, ["blocks_failed"]
    try:
        trial = [dict(block) for block in blocks]  # kinds() writes each block's kind
        fonts = structure.Fonts()
        fonts.add(trial)
        structure.set_levels(trial, structure.heading_levels(structure.kinds(trial, fonts)))
        structure.markdown_page({"page": number, "blocks": trial})
    except MemoryError:
        raise
    except Exception:  # noqa: BLE001 - the Markdown of this page would fail: no blocks
        return None, ["markdown_failed"]
    return blocks, []


def _safe_block(block: dict) -> dict:
    bbox = block.get("bbox")
    box = [_finite(value) for value in bbox] if bbox else None
    size = _finite(block.get("size"))
    return {
        "text": str(block["text"]),
        "bbox": [round(value, 2) for value in box] if box and None not in box else None,
        "size": round(size, 1) if size and size > 0 else None,
        "font": block["font"] if isinstance(block.get("font"), str) else None,
        "bold": bool(block.get("bold")),
    }


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


def _finite(value) -> float | None:
    """JSON has no NaN or infinity, and a hostile matrix makes both."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)
