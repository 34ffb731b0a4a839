"""A document as chunks for retrieval (`?format=chunks`), made from its stored blocks and
tables as they stream, a page at a time.

- A heading closes the chunk before it and sets the heading path (levels 1..3) that every
  chunk after it carries, until a heading of its level or above.
- Paragraphs, list items and captions join the open chunk while it stays within the budget
  (`chunk_chars`); one that would pass it starts the next chunk. A block longer than the
  budget alone is cut between sentences, or between words for a sentence longer than the
  budget: no sentence is cut while a boundary is in reach.
- A table is a chunk of its own, as a Markdown table with its header; one longer than the
  budget is cut between rows, each piece with the header again: no row is ever cut.
- Page numbers and lone symbols (kind `other`) are left out.

Each chunk: {"id", "text", "headings", "pages", "bboxes": [{"page", "bbox"}], "chars",
"kind": "text" | "table"}. Its id is a hash of its text and where it starts (page and the
first block's box, or its place on the page): the same bytes and options give the same
chunks and ids, run after run.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator

from core.jobs import structure

DEFAULT_CHARS = 1500
MIN_CHARS = 200
MAX_CHARS = 20_000
_SENTENCE_END = re.compile(r"(?<=[.!?…])[\"'”’)\]]*\s+(?=\S)")


class _Open:
    """The chunk being filled."""

    def __init__(self):
        self.parts: list[str] = []
        self.pages: list[int] = []
        self.boxes: list[dict] = []
        self.start: tuple | None = None

    @property
    def chars(self) -> int:
        return sum(len(part) for part in self.parts) + 2 * max(len(self.parts) - 1, 0)

    def add(self, text: str, page: int, box, place: int):
        if self.start is None:
            self.start = (page, box if box else place)
        self.parts.append(text)
        if page not in self.pages:
            self.pages.append(page)
        if box:
            self.boxes.append({"page": page, "bbox": box})


def chunks(pages: Iterable[dict], budget: int = DEFAULT_CHARS) -> Iterator[dict]:
    """The chunks of `pages` (each {"page", "blocks" with kinds, "tables"?}), in order."""
    headings: list[str] = []
    current = _Open()

    def close() -> Iterator[dict]:
        nonlocal current
        if current.parts:
            yield _made("\n\n".join(current.parts), headings, current, "text")
        current = _Open()

    for page in pages:
        number = page["page"]
        for place, (kind, item) in enumerate(
            structure.placed(page.get("blocks") or [], page.get("tables") or [])
        ):
            if kind == "table":
                yield from close()
                for piece in _table_pieces(item, budget):
                    held = _Open()
                    held.add(piece, number, item.get("bbox"), place)
                    yield _made(piece, headings, held, "table")
                continue
            if item.get("kind") == "other":
                continue
            text = _plain(item)
            if not text:
                continue
            if item.get("kind") == "heading":
                yield from close()
                level = min(max(item.get("level", 3), 1), 3)
                headings = headings[: level - 1] + [text]
                continue
            if current.parts and current.chars + 2 + len(text) > budget:
                yield from close()
            if len(text) <= budget:
                current.add(text, number, item.get("bbox"), place)
                continue
            for piece in _pieces(text, budget):
                if current.parts and current.chars + 2 + len(piece) > budget:
                    yield from close()
                current.add(piece, number, item.get("bbox"), place)
    yield from close()


def _plain(block: dict) -> str:
    """A block's text as one paragraph: its lines joined, a hyphen at a line end undone."""
    text = re.sub(r"(\w)-\n(\w)", r"\1\2", block["text"].strip())
    return " ".join(text.split())


def _pieces(text: str, budget: int) -> Iterator[str]:
    """`text` in pieces of at most `budget` characters, cut between sentences, or between
    words inside a sentence longer than the budget."""
    held = ""
    for sentence in _SENTENCE_END.split(text):
        for part in _words(sentence, budget):
            if held and len(held) + 1 + len(part) > budget:
                yield held
                held = ""
            held = f"{held} {part}" if held else part
    if held:
        yield held


def _words(sentence: str, budget: int) -> Iterator[str]:
    if len(sentence) <= budget:
        yield sentence
        return
    held = ""
    for word in sentence.split():
        if held and len(held) + 1 + len(word) > budget:
            yield held
            held = ""
        held = f"{held} {word}" if held else word[:budget]
    if held:
        yield held


def _table_pieces(table: dict, budget: int) -> Iterator[str]:
    """The table as Markdown, cut between rows into pieces within the budget where it can
    be, each with the header rows again."""
    heads = max(table.get("header_rows", 0), 1)
    rows = table["rows"]
    whole = structure.markdown_table(table).rstrip("\n")
    if len(whole) <= budget or len(rows) <= heads + 1:
        yield whole
        return
    start = heads
    while start < len(rows):
        end = start + 1
        piece = _rows_markdown(table, rows[:heads] + rows[start:end])
        while end < len(rows):
            longer = _rows_markdown(table, rows[:heads] + rows[start : end + 1])
            if len(longer) > budget:
                break
            piece, end = longer, end + 1
        yield piece
        start = end


def _rows_markdown(table: dict, rows: list[list[dict]]) -> str:
    return structure.markdown_table({**table, "rows": rows}).rstrip("\n")


def _made(text: str, headings: list[str], held: _Open, kind: str) -> dict:
    page, where = held.start or (0, 0)
    seed = f"{page}|{where}|{text}".encode()
    return {
        "id": hashlib.sha256(seed).hexdigest()[:16],
        "kind": kind,
        "text": text,
        "headings": list(headings),
        "pages": held.pages,
        "bboxes": held.boxes,
        "chars": len(text),
    }
