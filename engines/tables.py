"""Tables on a page, ruled and unruled, with pdfplumber (built on pdfminer.six, which pdfq
already runs): computed only for jobs whose `outputs` ask for them.

- Ruled tables are pdfplumber's: cells from the page's rules (lines and rectangle edges). A
  grid of one row or one column (a box around text), one with fewer than MIN_RULED_TEXTS
  cells of text (labels in a diagram's boxes) or one that runs off the page is not a table.
- Unruled tables are found here, from the words pdfplumber gives: lines of text split into
  segments at gaps wider than GAP_EMS times the font size; a run of at least MIN_ROWS lines
  of two or more segments, close together, whose short segments (a cell, not prose: at most
  MAX_CELL_CHARS characters on average) line up into columns that are whitespace in every
  body line (gutters of at least GUTTER_EMS). A short line of one segment inside the run is
  a row with empty cells. Up to MAX_HEADER_LINES lines just above the run join it as header
  rows when they sit within its width (a header that spans columns crosses a gutter, so it
  cannot be found as a row itself). What lines up and is not a table is left out
  (_tabular): columns of prose or code, tables of contents, lists.

A table is {"bbox", "ruled", "rows": [[{"text", "bbox", "colspan"?}]], "header_rows",
"columns"}: boxes in PDF points, origin bottom left, as text blocks have them; a position a
spanning cell covers holds {"text": "", "bbox": None}. Header rows are the leading rows set
in bold, or holding a spanning cell, or (the first one) holding no number above rows that do.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from statistics import median

from engines.base import Page

GAP_EMS = 1.0
GUTTER_EMS = 0.9
MIN_ROWS = 3
MAX_HEADER_LINES = 2
HEADER_GAP_EMS = 0.5
MAX_CELL_CHARS = 28
MAX_CELL_WORDS = 4
MIN_RULED_TEXTS = 3
MAX_COLUMN_CHARS = 40
# A column is prose (or code) when this share of its cells start in lower case and run on
# (three words or more): sentences broken at line ends.
PROSE_SHARE = 0.4
_LEADERS = re.compile(r"(\.\s?){4,}")
_MARKER = re.compile(r"^([•●◦▪■‣∙·\-–—*!o]|\(?\d{1,3}[.)]|\(?[a-zA-Z][.)]|\(?[ivxlc]{1,6}[.)])$")
_PAGE = re.compile(r"^(\d{1,4}|[ivxlc]{1,7})$", re.IGNORECASE)
_NUMBER = re.compile(r"^[-+−(]?[$€£]?\d[\d,.\s]*%?\)?$")


def attach(path: Path | str, password: str, pages: Iterable[Page]) -> Iterator[Page]:
    """`pages` (extracted from the PDF at `path`), each given its tables as it passes: the
    document is opened once, each page laid out when it comes. Tables are an extra: a page
    whose tables fail keeps its text, with no tables and the warning "tables_failed"."""
    import pdfplumber  # only jobs that ask for tables load it
    from pdfminer.pdfpage import PDFPage
    from pdfplumber.page import Page as PlumbedPage

    with pdfplumber.open(path, password=password) as pdf:
        # The page tree walked once, in step with the pages (a part of a long document
        # reads only up to its own pages; pdf.pages would make every page's object).
        tree = enumerate(PDFPage.create_pages(pdf.doc), 1)
        for page in pages:
            try:
                number, found = next(tree)
                while number < page.number:
                    number, found = next(tree)
                plumbed = PlumbedPage(pdf, found, page_number=number)
                page.tables = page_tables(plumbed)
                plumbed.close()  # its cached objects: a long document's pages are not all held
            except MemoryError:
                raise
            except Exception:  # noqa: BLE001 - the page keeps its text
                page.tables = []
                page.warnings = [*page.warnings, "tables_failed"]
            yield page


def extract(path: Path | str, password: str, numbers: list[int]) -> dict[int, list[dict]]:
    """{page number: its tables} for the 1-based page `numbers` of the PDF at `path`."""
    import pdfplumber  # only jobs that ask for tables load it

    found: dict[int, list[dict]] = {}
    with pdfplumber.open(path, password=password, pages=numbers) as pdf:
        for page in pdf.pages:
            found[page.page_number] = page_tables(page)
            page.close()  # its cached objects: a long document's pages are not all held
    return found


def page_tables(page) -> list[dict]:
    """A pdfplumber page's tables, ruled ones first, each in reading order (top down)."""
    height = float(page.height)
    origin = (float(page.bbox[0]), float(page.bbox[1]))
    tables = []
    for table in page.find_tables():
        made = _ruled(table, page)
        if made:
            tables.append(made)
    boxes = [t["top_box"] for t in tables]
    words = [
        w
        for w in page.extract_words(extra_attrs=["fontname", "size"])
        if not any(_inside(w, box) for box in boxes)
    ]
    tables.extend(_unruled(words))
    tables.sort(key=lambda t: (t["top_box"][1], t["top_box"][0]))
    return [_in_pdf_space(t, height, origin) for t in tables]


def _inside(word: dict, box) -> bool:
    cx, cy = (word["x0"] + word["x1"]) / 2, (word["top"] + word["bottom"]) / 2
    return box[0] <= cx <= box[2] and box[1] <= cy <= box[3]


# --- ruled: pdfplumber's cells ---


def _ruled(table, page) -> dict | None:
    rows = table.rows
    columns = max((len(row.cells) for row in rows), default=0)
    x0, top, x1, bottom = table.bbox
    if len(rows) < 2 or columns < 2:
        return None
    if x0 < -2 or top < -2 or x1 > page.width + 2 or bottom > page.height + 2:
        return None  # rules of a drawing that runs off the page: not a grid of cells
    texts = table.extract()
    grid = []
    for r, row in enumerate(rows):
        cells = []
        for c, box in enumerate(row.cells):
            if box is None:
                cells.append({"text": "", "bbox": None})
                continue
            cell = {"text": _clean(texts[r][c]), "bbox": list(box)}
            span = 1
            while c + span < len(row.cells) and row.cells[c + span] is None:
                span += 1
            if span > 1:
                cell["colspan"] = span
            cells.append(cell)
        cells += [{"text": "", "bbox": None}] * (columns - len(cells))
        grid.append(cells)
    if sum(1 for row in grid for cell in row if cell["text"]) < MIN_RULED_TEXTS:
        return None  # labels in the boxes of a diagram
    bold = [_row_bold(page, row) for row in grid]
    return _table(grid, list(table.bbox), True, bold)


def _row_bold(page, row: list[dict]) -> bool:
    chars = [
        char
        for cell in row
        if cell["bbox"]
        for char in page.within_bbox(cell["bbox"], strict=False).chars
        if char["text"].strip()
    ]
    return bool(chars) and all(_is_bold(char["fontname"]) for char in chars)


def _clean(text: str | None) -> str:
    return " ".join((text or "").split())


def _is_bold(font: str) -> bool:
    return any(mark in font.lower() for mark in ("bold", "black", "heavy", "semibold", "demi"))


# --- unruled: words that line up in columns ---


def _lines(words: list[dict]) -> list[list[dict]]:
    """Words grouped into lines (overlapping vertically), top down, each left to right."""
    lines: list[list[dict]] = []
    for word in sorted(words, key=lambda w: (w["top"], w["x0"])):
        if lines:
            last = lines[-1]
            top, bottom = min(w["top"] for w in last), max(w["bottom"] for w in last)
            overlap = min(bottom, word["bottom"]) - max(top, word["top"])
            if overlap >= 0.5 * min(bottom - top, word["bottom"] - word["top"]):
                last.append(word)
                continue
        lines.append([word])
    return [sorted(line, key=lambda w: w["x0"]) for line in lines]


def _segments(line: list[dict]) -> list[list[dict]]:
    """A line split at gaps wider than GAP_EMS times its font size."""
    out = [[line[0]]]
    for before, word in zip(line, line[1:], strict=False):
        if word["x0"] - before["x1"] > GAP_EMS * max(before["size"], word["size"]):
            out.append([word])
        else:
            out[-1].append(word)
    return out


def _unruled(words: list[dict]) -> list[dict]:
    lines = _lines(words)
    split = [_segments(line) for line in lines]
    tables, start = [], 0
    while start < len(lines):
        if len(split[start]) < 2:
            start += 1
            continue
        end = start + 1
        # A short line of one segment is a row with empty cells, when the run goes on.
        while end < len(lines) and _close(lines[end - 1], lines[end]):
            if len(split[end]) < 2 and len(_text(lines[end])) > MAX_CELL_CHARS:
                break
            end += 1
        while len(split[end - 1]) < 2 and end - start > MIN_ROWS:
            if not _close(lines[end - 2], lines[end - 1]):
                end -= 1
            else:
                break
        made = _grid(lines, split, start, end) if end - start >= MIN_ROWS else None
        if made:
            tables.append(made)
            start = made.pop("end")
        else:
            start += 1
    return tables


def _close(above: list[dict], below: list[dict]) -> bool:
    height = max(w["bottom"] - w["top"] for w in above + below)
    return min(w["top"] for w in below) - max(w["bottom"] for w in above) <= 1.5 * height


def _gutters(lines: list[list[dict]], left: float, right: float, size: float) -> list[tuple]:
    """The x ranges, at least GUTTER_EMS wide, that no word of `lines` covers."""
    spans = sorted((w["x0"], w["x1"]) for line in lines for w in line)
    gaps, reach = [], left
    for x0, x1 in spans:
        if x0 - reach >= GUTTER_EMS * size:
            gaps.append((reach, x0))
        reach = max(reach, x1)
    return [g for g in gaps if left < g[0] and g[1] < right]


def _grid(lines, split, start: int, end: int) -> dict | None:
    """The table whose body starts at line `start`, or None: its gutters come from the lines
    of two or more segments; it ends before the first later line that crosses one."""
    multi = [lines[i] for i in range(start, end) if len(split[i]) >= 2]
    cells = [seg for i in range(start, end) if len(split[i]) >= 2 for seg in split[i]]
    if sum(len(_text(seg)) for seg in cells) / len(cells) > MAX_CELL_CHARS:
        return None  # columns of prose, not cells
    left = min(w["x0"] for line in multi for w in line)
    right = max(w["x1"] for line in multi for w in line)
    size = median(w["size"] for line in multi for w in line)
    gutters = _gutters(multi, left, right, size)
    if not gutters:
        return None
    bounds = [left, *((a + b) / 2 for a, b in gutters), right]
    half = median(b - a for a, b in gutters) / 2
    columns = len(bounds) - 1
    for index in range(start, end):  # a line that crosses a gutter is not a row
        line = lines[index]
        if any(_column(s, bounds) != _last_column(s, bounds) for s in _segments(line)) or (
            min(w["x0"] for w in line) < left - size or max(w["x1"] for w in line) > right + size
        ):
            end = index
            break
    body = lines[start:end]
    if len(body) < MIN_ROWS:
        return None
    filled = [{_column(seg, bounds) for seg in _segments(line)} for line in body]
    if sum(len(f) >= 2 for f in filled) < max(MIN_ROWS, 2 * len(body) / 3):
        return None
    if any(sum(c in f for f in filled) < max(2, len(body) // 3) for c in range(columns)):
        return None
    head = start
    while (
        start - head < MAX_HEADER_LINES
        and head > 0
        and _close(lines[head - 1], lines[head])
        and len(_text(lines[head - 1])) <= MAX_CELL_CHARS * columns
        and min(w["x0"] for w in lines[head - 1]) >= left - size
        and max(w["x1"] for w in lines[head - 1]) <= right + size
    ):
        head -= 1
    grid, bold = [], []
    for index in range(head, end):
        line = lines[index]
        top, bottom = min(w["top"] for w in line), max(w["bottom"] for w in line)
        row = [
            {"text": "", "bbox": [bounds[c], top, bounds[c + 1], bottom]} for c in range(columns)
        ]
        header = index < start
        for seg in _header_segments(line, bounds) if header else _segments(line):
            first, last = _column(seg, bounds), _last_column(seg, bounds)
            if header:
                first, last = _spanned(seg, bounds, half, line, first, last)
            cell = row[first]
            cell["text"] = f"{cell['text']} {_text(seg)}".strip()
            cell["bbox"] = [
                min(w["x0"] for w in seg),
                min(w["top"] for w in seg),
                max(w["x1"] for w in seg),
                max(w["bottom"] for w in seg),
            ]
            if last > first:
                cell["colspan"] = last - first + 1
                for c in range(first + 1, last + 1):
                    row[c] = {"text": "", "bbox": None}
        grid.append(row)
        bold.append(all(_is_bold(w["fontname"]) for w in line))
    top = min(w["top"] for line in lines[head:end] for w in line)
    bottom = max(w["bottom"] for line in lines[head:end] for w in line)
    if not _tabular(grid):
        return None
    made = _table(grid, [left, top, right, bottom], False, bold)
    made["end"] = end
    return made


def _tabular(grid: list[list[dict]]) -> bool:
    """False for what lines up like a table and is not one: columns of prose (cells of many
    words), a table of contents (dot leaders, or titles then page numbers), a list (bullets
    or enumerators, then text)."""
    texts = [cell["text"] for row in grid for cell in row if cell["text"]]
    if median(len(text.split()) for text in texts) > MAX_CELL_WORDS:
        return False
    if sum(bool(_LEADERS.search(" ".join(c["text"] for c in row))) for row in grid) * 3 >= len(
        grid
    ):
        return False
    for column in zip(*grid, strict=False):
        cells = [cell["text"] for cell in column if cell["text"]]
        if sum(_running(text) for text in cells) >= PROSE_SHARE * max(len(cells), 1):
            return False
        if cells and median(len(text) for text in cells) > MAX_COLUMN_CHARS:
            return False  # a column of text lines
    if len(grid[0]) == 2:
        first = [row[0]["text"] for row in grid if row[0]["text"]]
        last = [row[-1]["text"] for row in grid if row[-1]["text"]]
        if first and all(_MARKER.match(text) for text in first):
            return False
        if len(last) >= 3 and all(_PAGE.match(text) for text in last):
            return any(_NUMBER.match(text) for text in first)  # titles, then their pages
    return True


def _spanned(seg, bounds, half: float, line, first: int, last: int) -> tuple[int, int]:
    """The columns a header segment heads: those it crosses, widened over empty neighbours
    to the run whose middle is its own (a head centred over several columns)."""
    taken = {_column(s, bounds) for s in _segments(line) if seg[0] not in s}
    low = first
    while low > 0 and low - 1 not in taken:
        low -= 1
    high = last
    while high < len(bounds) - 2 and high + 1 not in taken:
        high += 1
    middle = (min(w["x0"] for w in seg) + max(w["x1"] for w in seg)) / 2
    # The outer bounds are the text's edges: widened by half a gutter, as the inner ones are.
    edges = [bounds[0] - half, *bounds[1:-1], bounds[-1] + half]
    spans = [(a, b) for a in range(low, first + 1) for b in range(last, high + 1)]
    # The widest run whose middle is the head's, within a quarter of the head's width (a
    # head over several columns); the nearest middle when none is.
    width = max(w["x1"] for w in seg) - min(w["x0"] for w in seg)
    off = {(a, b): abs((edges[a] + edges[b + 1]) / 2 - middle) for a, b in spans}
    close = [span for span in spans if off[span] <= max(2.0, width / 4)]
    if not close:
        return min(spans, key=lambda span: off[span])
    best = max(close, key=lambda span: (span[1] - span[0], -off[span]))
    return best


def _header_segments(line: list[dict], bounds: list[float]) -> list[list[dict]]:
    """A header line's cells: its segments, each cut where a column bound falls in a gap
    wider than an ordinary space (HEADER_GAP_EMS); words spaced as a phrase stay one head,
    which spans the columns it crosses."""
    out = []
    for seg in _segments(line):
        piece = [seg[0]]
        for before, word in zip(seg, seg[1:], strict=False):
            gap = word["x0"] - before["x1"]
            split = any(before["x1"] <= bound <= word["x0"] for bound in bounds[1:-1])
            if split and gap >= HEADER_GAP_EMS * max(before["size"], word["size"]):
                out.append(piece)
                piece = [word]
            else:
                piece.append(word)
        out.append(piece)
    return out


def _column(seg: list[dict], bounds: list[float]) -> int:
    x = min(w["x0"] for w in seg) + 0.01
    return max(0, min(len(bounds) - 2, sum(1 for b in bounds[1:-1] if b < x)))


def _last_column(seg: list[dict], bounds: list[float]) -> int:
    x = max(w["x1"] for w in seg) - 0.01
    return max(0, min(len(bounds) - 2, sum(1 for b in bounds[1:-1] if b < x)))


def _text(seg: list[dict]) -> str:
    return " ".join(w["text"] for w in seg)


# --- both ---


def _table(grid: list[list[dict]], bbox: list[float], ruled: bool, bold: list[bool]) -> dict:
    return {
        "top_box": bbox,
        "ruled": ruled,
        "columns": len(grid[0]),
        "header_rows": _header_rows(grid, bold),
        "rows": grid,
    }


def _running(text: str) -> bool:
    """A line of prose cut at the line's end, or of code (its comments included)."""
    if text.startswith(("//", "/*", "# ")):
        return True
    return text[:1].islower() and len(text.split()) >= 3


def _header_rows(grid: list[list[dict]], bold: list[bool]) -> int:
    count = 0
    while count < min(3, len(grid) - 1):
        row = grid[count]
        spanning = any(cell.get("colspan") for cell in row)
        bolder = bold[count] and not all(bold[count + 1 :])
        if not (spanning or bolder):
            break
        count += 1
    if count == 0 and _wordy(grid[0]) and any(_has_number(row) for row in grid[1:]):
        count = 1
    return count


def _wordy(row: list[dict]) -> bool:
    texts = [cell["text"] for cell in row if cell["text"]]
    return len(texts) >= 2 and not any(_NUMBER.match(text) for text in texts)


def _has_number(row: list[dict]) -> bool:
    return any(_NUMBER.match(cell["text"]) for cell in row if cell["text"])


def _in_pdf_space(table: dict, height: float, origin: tuple[float, float]) -> dict:
    """Boxes from pdfplumber's (top left origin, page's own) to PDF points, origin bottom
    left, as text blocks have them."""

    def flip(box):
        if box is None:
            return None
        x0, top, x1, bottom = box
        return [
            round(x0 + origin[0], 2),
            round(height - bottom + origin[1], 2),
            round(x1 + origin[0], 2),
            round(height - top + origin[1], 2),
        ]

    rows = [[{**cell, "bbox": flip(cell["bbox"])} for cell in row] for row in table["rows"]]
    return {
        "bbox": flip(table["top_box"]),
        "ruled": table["ruled"],
        "columns": table["columns"],
        "header_rows": table["header_rows"],
        "rows": rows,
    }
