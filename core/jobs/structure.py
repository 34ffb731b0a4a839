"""A document's shape from its text blocks: each block's kind, and the document as Markdown.

Engines give blocks per page (text, bbox, font size and name, bold); kinds need the whole
document's fonts, so they are decided here, in passes that each read one page at a time:

- the body size is the font size that most of the document's characters use;
- a heading is a short block (at most MAX_HEADING_LINES lines, MAX_HEADING_CHARS characters)
  set at least HEADING_RATIO times the body size; heading levels 1..3 go to the distinct
  heading sizes, largest first;
- so is one line of at most MAX_HEADING_WORDS words, not ending with a period, at about the
  body size, that is bold, or in capitals (small caps), or numbered as a section ("2.1
  Tokenizer", "3 Results"), or set in another font than the body text at its size or
  larger, starting with a capital and holding no code punctuation; its level follows the
  numbering's depth (2 for "3", 3 for "2.1"), 3 unnumbered. Table-of-contents lines (dot
  leaders) are not headings;
- a list item starts with a bullet or an enumerator (`•`, `-`, `1.`, `a)`, `(iv)`);
- a caption starts with Figure/Fig./Table and a number;
- other: page numbers and lone symbols; everything else is a paragraph.

The Markdown carries a stranger's text to renderers that run HTML and follow links, so every
piece of it is escaped (`_text`): `<` and `>` as entities (no tag, no comment, no autolink:
nothing can open an HTML block or end a page comment), `[`, `]`, backslashes and backticks
with a backslash (no link, image, reference definition, code span or fence), an `&` that
would start an entity as `&amp;`, and a block marker at the start of a paragraph or item
(`#`, `+`, `-`, `=`, `~`, `1.`) with a backslash, so the text stays the text it was.
"""

from __future__ import annotations

import itertools
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from typing import BinaryIO

HEADING_RATIO = 1.15
BODY_LIKE = 0.75  # small caps are set smaller than the body text (8 pt in 10 pt)
MAX_HEADING_WORDS = 12
MAX_HEADING_LINES = 3
MAX_HEADING_CHARS = 200
# A text block with at least this share of its area inside a table is the table's.
TABLE_SHARE = 0.5
KINDS = ("heading", "paragraph", "list_item", "caption", "other")
_LIST = re.compile(r"^\s*([•●◦▪■‣∙·\-–—*]|\(?\d{1,3}[.)]|\(?[a-zA-Z][.)]|\(?[ivxlc]{1,6}\))\s+\S")
_BULLET = re.compile(r"^\s*[•●◦▪■‣∙·\-–—*]\s+")
_CAPTION = re.compile(r"^\s*(figure|fig\.|table|tab\.|abbildung|tabelle)\s*\d", re.IGNORECASE)
_SECTION = re.compile(r"^(\d{1,2}(?:\.\d{1,2})+\.?|\d{1,2}|[IVX]{1,4}\.)\s+[A-Z]")
_CODE = re.compile(r"[(){}\[\];=<>/\\]")
_LEADERS = re.compile(r"(\.\s){3,}|\.{4,}")
_OTHER = re.compile(r"^\s*(\d{1,4}|[ivxlc]{1,6}|page \d+( of \d+)?|\W+)\s*$", re.IGNORECASE)
_ESCAPED = re.compile(r"[\\`\[\]]")
_ENTITY_START = re.compile(r"&(?=#?[0-9A-Za-z]+;)")
# What would make the start of a paragraph or an item another block: a heading, a list, a
# quote (`>` is an entity already), a fence of tildes (backticks are escaped anywhere).
_BLOCK_MARKER = re.compile(r"^(?:[#+\-*](?=\s|$)|~(?=~~)|(\d{1,9})([.)])(?=\s|$))")


class Fonts:
    """The document's font use, gathered a page at a time: the size and the font most of its
    characters are set in (the body text's)."""

    def __init__(self):
        self.sizes: Counter = Counter()
        self.fonts: Counter = Counter()

    def add(self, blocks: list[dict] | None):
        for block in blocks or []:
            chars = len(block["text"].strip())
            if block.get("size"):
                self.sizes[block["size"]] += chars
            if block.get("font"):
                self.fonts[block["font"]] += chars

    @property
    def body(self) -> float | None:
        return self.sizes.most_common(1)[0][0] if self.sizes else None

    @property
    def body_font(self) -> str | None:
        return self.fonts.most_common(1)[0][0] if self.fonts else None


def body_size(pages: list[dict]) -> float | None:
    """The font size most of the document's characters are set in."""
    fonts = Fonts()
    for page in pages:
        fonts.add(page.get("blocks"))
    return fonts.body


def classify(pages: list[dict]) -> list[dict]:
    """[{"page", "blocks": [...]}] with each block's `kind` (and `level` for headings). The
    same three passes run over a document too long to hold (core/jobs/results.py): fonts,
    then kinds, then heading levels, each a page at a time."""
    fonts = Fonts()
    for page in pages:
        fonts.add(page.get("blocks"))
    headings: set[float] = set()
    for page in pages:
        headings |= kinds(page.get("blocks"), fonts)
    levels = heading_levels(headings)
    for page in pages:
        set_levels(page.get("blocks"), levels)
    return pages


def kinds(blocks: list[dict] | None, fonts: Fonts) -> set[float]:
    """Give one page's blocks their `kind`; the sizes of its headings set larger than the
    body text (heading_levels ranks them over the whole document)."""
    body, body_font = fonts.body, fonts.body_font
    headings: set[float] = set()
    for block in blocks or []:
        block["kind"] = _kind(block, body, body_font)
        block.pop("level", None)
        size = block.get("size")
        if block["kind"] == "heading" and size and body and size >= body * HEADING_RATIO:
            headings.add(size)
    return headings


def heading_levels(sizes: set[float]) -> dict[float, int]:
    """Levels 1..3 for the document's distinct heading sizes, largest first."""
    return {size: min(rank, 3) for rank, size in enumerate(sorted(sizes, reverse=True), 1)}


def set_levels(blocks: list[dict] | None, levels: dict[float, int]):
    """Give one page's headings their `level`: by size, or by their section numbering."""
    for block in blocks or []:
        if block["kind"] == "heading":
            block["level"] = levels.get(block.get("size")) or _numbered_level(block["text"])


def _numbered_level(text: str) -> int:
    match = _SECTION.match(text.strip())
    return min(3, 2 + match.group(1).rstrip(".").count(".")) if match else 3


def _kind(block: dict, body: float | None, body_font: str | None = None) -> str:
    text = block["text"].strip()
    if not text or _OTHER.match(text):
        return "other"
    if _CAPTION.match(text):
        return "caption"
    if _BULLET.match(text):
        return "list_item"
    lines = text.count("\n") + 1
    short = lines <= MAX_HEADING_LINES and len(text) <= MAX_HEADING_CHARS
    size = block.get("size")
    if short and body and size and size >= body * HEADING_RATIO:
        return "heading"
    if _LIST.match(text):
        return "list_item"
    if (
        lines == 1
        and len(text.split()) <= MAX_HEADING_WORDS
        and not text.endswith((".", ",", ";", ":"))
        and not _LEADERS.search(text)
        and (not body or not size or size >= body * BODY_LIKE)
        and (block.get("bold") or _capitals(text) or _SECTION.match(text))
    ):
        return "heading"
    if (
        lines == 1
        and len(text.split()) <= MAX_HEADING_WORDS
        and body_font
        and block.get("font") not in (None, body_font)
        and body
        and size
        and size >= body * 0.95
        and (text[0].isupper() or text[0].isdigit())
        and not text.endswith((".", ",", ";", ":"))
        and not _CODE.search(text)
    ):
        return "heading"
    return "paragraph"


def _capitals(text: str) -> bool:
    letters = [c for c in text if c.isalpha()]
    return len(letters) >= 4 and all(c.isupper() for c in letters)


def fallback_blocks(text: str) -> list[dict]:
    """Blocks of a page whose engine gave none (PDFium): its paragraphs, split at blank
    lines, with no position or font."""
    return [
        {"text": part.strip("\n") + "\n", "bbox": None, "size": None, "font": None, "bold": False}
        for part in re.split(r"\n\s*\n", text)
        if part.strip()
    ]


def markdown(pages: list[dict], outline: list[dict], title: str = "") -> str:
    """The document as Markdown: the outline as a contents list, then every page's blocks
    (headings `#`..`###`, list items, captions, paragraphs; not the `other` blocks: page
    numbers and lone symbols), pages separated by a comment."""
    out = markdown_head(outline, title)
    for page in pages:
        out.extend(markdown_page(page))
    return "\n".join(out).rstrip("\n") + "\n"


def write_markdown(fp: BinaryIO, pages: Iterable[dict], outline: list[dict], title: str = ""):
    """markdown() written to the binary file `fp` a page at a time, byte for byte the same."""
    trailing = written = 0  # newlines at the end of what is written; bytes written

    def put(piece: str):
        nonlocal trailing, written
        data = piece.encode("utf-8")
        fp.write(data)
        written += len(data)
        stripped = len(piece.rstrip("\n"))
        trailing = len(piece) - stripped if stripped else trailing + len(piece)

    first = True
    for piece in itertools.chain(markdown_head(outline, title), _page_pieces(pages)):
        if not first:
            put("\n")
        put(piece)
        first = False
    fp.truncate(written - trailing)  # rstrip("\n") + "\n", as markdown() ends
    fp.seek(written - trailing)
    fp.write(b"\n")


def _page_pieces(pages: Iterable[dict]) -> Iterator[str]:
    for page in pages:
        yield from markdown_page(page)


def markdown_head(outline: list[dict], title: str = "") -> list[str]:
    """The Markdown before the first page: the title, and the outline as a contents list."""
    out: list[str] = []
    if title:
        out.append(f"# {_text(_line(title))}\n")
    if outline:
        out.append("## Contents\n")
        for entry in outline:
            indent = "  " * min(max(entry.get("level", 1) - 1, 0), 5)
            page = f" (p. {entry['page']})" if entry.get("page") else ""
            out.append(f"{indent}- {_text(_line(entry['title']), start=True)}{page}")
        out.append("")
    return out


def markdown_page(page: dict) -> list[str]:
    """One page's Markdown pieces: its comment, then its blocks but the `other` ones, and its
    tables (when the job computed them) each at its place in the reading order, in place of
    the blocks that held its cells' text."""
    out = [f"<!-- page {page['page']} -->\n"]
    for kind, item in placed(page.get("blocks") or [], page.get("tables") or []):
        if kind == "table":
            out.append(markdown_table(item))
        elif item.get("kind") != "other":  # page numbers, lone symbols
            out.append(_block(item))
    return out


def placed(blocks: list[dict], tables: list[dict]) -> list[tuple[str, dict]]:
    """The page's blocks and tables in reading order: [("block", b) | ("table", t)].

    A block with a position that lies mostly inside a table is the table's and left out; the
    table takes the place of the first such block, or else comes before the first block
    below its top edge. A block with no position (PDFium's paragraphs) is read line by line:
    a run of lines made of a table's cells' words is the table's, and the table takes the
    run's place, the block's lines before and after it kept as blocks of their own."""
    if not tables:
        return [("block", block) for block in blocks]
    items: list[tuple[str, dict]] = []
    done: set[int] = set()
    for block in blocks:
        if block.get("bbox"):
            items.append(("block", block))
        else:
            items.extend(_split_loose(block, tables, done))
    rest = [table for t, table in enumerate(tables) if t not in done]
    owner: dict[int, int] = {}  # item index -> index in rest
    for t, table in enumerate(rest):
        for i, (kind, item) in enumerate(items):
            if kind == "block" and i not in owner and _belongs(item, table):
                owner[i] = t
    before: dict[int, list[int]] = {}  # item index -> tables placed before it
    for t, table in enumerate(rest):
        mine = [i for i, owned in owner.items() if owned == t]
        if mine:
            at = min(mine)
        else:
            below = [
                i
                for i, (kind, item) in enumerate(items)
                if kind == "block" and i not in owner and item.get("bbox") and table.get("bbox")
                if item["bbox"][3] < table["bbox"][3]
            ]
            at = min(below, default=len(items))
        before.setdefault(at, []).append(t)
    out: list[tuple[str, dict]] = []
    for i in range(len(items) + 1):
        out.extend(("table", rest[t]) for t in before.get(i, []))
        if i < len(items) and i not in owner:
            out.append(items[i])
    return out


def _belongs(block: dict, table: dict) -> bool:
    box, area = block.get("bbox"), table.get("bbox")
    if not (box and area):
        return False
    width = min(box[2], area[2]) - max(box[0], area[0])
    height = min(box[3], area[3]) - max(box[1], area[1])
    own = max(box[2] - box[0], 0.01) * max(box[3] - box[1], 0.01)
    return width > 0 and height > 0 and width * height >= TABLE_SHARE * own


def _split_loose(block: dict, tables: list[dict], done: set[int]) -> list[tuple[str, dict]]:
    """A block with no position, split around the runs of its lines that are tables' rows
    (each table found once: `done` holds the indexes of those found)."""
    lines = block["text"].split("\n")
    marks: list[int | None] = [None] * len(lines)
    for t, table in enumerate(tables):
        if t in done:
            continue
        cells = Counter(w for row in table["rows"] for cell in row for w in cell["text"].split())
        need = max(2, len(table["rows"]) // 2)
        for start in range(len(lines)):
            run = _table_run(lines, marks, start, Counter(cells))
            if len(run) >= need:
                for index in run:
                    marks[index] = t
                done.add(t)
                break
    if all(mark is None for mark in marks):
        return [("block", block)]
    out: list[tuple[str, dict]] = []
    held: list[str] = []
    for index, line in enumerate(lines):
        mark = marks[index]
        if mark is None:
            held.append(line)
            continue
        if held and "".join(held).strip():
            out.append(("block", {**block, "text": "\n".join(held).strip("\n") + "\n"}))
        held = []
        if index == 0 or marks[index - 1] != mark:
            out.append(("table", tables[mark]))
    if held and "".join(held).strip():
        out.append(("block", {**block, "text": "\n".join(held).strip("\n") + "\n"}))
    return out


def _table_run(lines: list[str], marks: list, start: int, cells: Counter) -> list[int]:
    """The lines from `start` on whose words are all left among the table's `cells` (each
    taken as it is used); blank lines inside the run are its own."""
    run: list[int] = []
    for index in range(start, len(lines)):
        words = lines[index].split()
        if marks[index] is not None:
            break
        if not words:
            if run:
                continue
            break
        if any(cells[word] < count for word, count in Counter(words).items()):
            break
        cells.subtract(words)
        run.append(index)
    return run


def markdown_table(table: dict) -> str:
    """A table as a Markdown (GFM) table: its header rows joined column by column into the
    head (the first row when it has none), each cell escaped as text and `|` with a
    backslash."""
    rows = [[_cell(cell["text"]) for cell in row] for row in table["rows"]]
    heads = max(table.get("header_rows", 0), 1)
    head = [" ".join(filter(None, column)) for column in zip(*rows[:heads], strict=False)]
    lines = [head, ["---"] * len(head), *rows[heads:]]
    return "\n".join("| " + " | ".join(line) + " |" for line in lines) + "\n"


def _cell(text: str) -> str:
    return _text(_line(text)).replace("|", "\\|")


def _block(block: dict) -> str:
    kind, text = block.get("kind"), block["text"].strip()
    if kind == "heading":
        return f"{'#' * block.get('level', 3)} {_text(_line(text))}\n"
    if kind == "list_item":
        # A bullet gives way to Markdown's; an enumerator (1., a)) is kept: it is content.
        item = _BULLET.sub("", text, count=1)
        return f"- {_text(_line(item), start=True)}\n"
    if kind == "caption":
        return f"*{_text(_line(text))}*\n"
    return _text(_paragraph(text), start=True) + "\n"


def _line(text: str) -> str:
    return " ".join(text.split())


def _text(text: str, start: bool = False) -> str:
    """`text` as Markdown that shows it and runs nothing (the module's docstring says how);
    with `start`, a block marker it begins with is escaped too."""
    text = _ESCAPED.sub(lambda m: "\\" + m.group(), text)
    text = _ENTITY_START.sub("&amp;", text)
    text = text.replace("<", "&lt;").replace(">", "&gt;")
    if start:
        text = _BLOCK_MARKER.sub(_escape_marker, text, count=1)
    return text


def _escape_marker(match: re.Match) -> str:
    if match.group(1):  # "1." or "1)": the punctuation is what makes it a list
        return match.group(1) + "\\" + match.group(2)
    return "\\" + match.group()


def _paragraph(text: str) -> str:
    """Lines joined, words broken by a hyphen at a line end joined again."""
    joined = re.sub(r"(\w)-\n(\w)", r"\1\2", text)
    return " ".join(joined.split())
