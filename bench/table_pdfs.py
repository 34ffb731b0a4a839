"""A generated table set for the table-quality row: PDFs written as content streams (the
standard 14 fonts, so no font file is needed), each with its ground truth beside it.

    python -m bench.table_pdfs [FOLDER]   # write the set (default: a cache folder), list it

Each document is one or more pages; each page holds one or more tables between paragraphs
of text: ruled (every cell boxed) or unruled (no rules at all, or only the booktabs rules
above, below the header and at the end), with headers that span columns, empty cells,
numbers set flush right, and several fonts and sizes. `<name>.json` beside `<name>.pdf`
holds, per page, each table's kind and its cells row by row (a spanned position is "").
The set is made by `build(seed)` from a seeded random generator: the same set every run.
"""

from __future__ import annotations

import json
import random
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from pdfminer.fontmetrics import FONT_METRICS

PAGE_W, PAGE_H = 612, 792
MARGIN = 60
FONTS = ("Helvetica", "Times-Roman", "Courier")
BOLD = {"Helvetica": "Helvetica-Bold", "Times-Roman": "Times-Bold", "Courier": "Courier-Bold"}
WORDS = [
    "alpha", "beta", "gamma", "delta", "north", "south", "east", "west", "total", "revenue",
    "cost", "margin", "units", "region", "sample", "mean", "median", "rate", "price", "volume",
    "growth", "share", "index", "score", "level", "group", "class", "batch",
]  # fmt: skip
PROSE = (
    "The figures below summarize the results of the quarter. Each value is rounded to the "
    "nearest unit, and empty cells mark values that were not reported in time. The text "
    "around a table is ordinary running prose, set in the body font at the body size."
)


def text_width(text: str, font: str, size: float) -> float:
    widths = FONT_METRICS[font][1]
    return sum(widths.get(char, 500) for char in text) * size / 1000


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


@dataclass
class Canvas:
    """One page's content stream, with the fonts it uses."""

    ops: list[str] = field(default_factory=list)
    fonts: dict[str, str] = field(default_factory=dict)  # base font -> resource name

    def text(self, x: float, y: float, text: str, font: str, size: float):
        name = self.fonts.setdefault(font, f"F{len(self.fonts) + 1}")
        self.ops.append(f"BT /{name} {size:g} Tf {x:.2f} {y:.2f} Td ({_escape(text)}) Tj ET")

    def line(self, x0: float, y0: float, x1: float, y1: float, width: float = 0.6):
        self.ops.append(f"{width:g} w {x0:.2f} {y0:.2f} m {x1:.2f} {y1:.2f} l S")


def _font(base: str) -> bytes:
    return (
        f"<< /Type /Font /Subtype /Type1 /BaseFont /{base} /Encoding /WinAnsiEncoding >>".encode()
    )


def write_pdf(path: Path, pages: list[Canvas]):
    """The pages as a PDF file: catalog, page tree, one content stream and font set a page."""
    objects: list[bytes] = []

    def add(body: bytes) -> int:
        objects.append(body)
        return len(objects)

    catalog = add(b"")
    tree = add(b"")
    kids = []
    for canvas in pages:
        fonts = " ".join(f"/{name} {add(_font(base))} 0 R" for base, name in canvas.fonts.items())
        stream = "\n".join(canvas.ops).encode("latin-1")
        content = add(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
        kids.append(
            add(
                f"<< /Type /Page /Parent {tree} 0 R /MediaBox [0 0 {PAGE_W} {PAGE_H}] "
                f"/Resources << /Font << {fonts} >> >> /Contents {content} 0 R >>".encode()
            )
        )
    objects[catalog - 1] = f"<< /Type /Catalog /Pages {tree} 0 R >>".encode()
    refs = " ".join(f"{kid} 0 R" for kid in kids)
    objects[tree - 1] = f"<< /Type /Pages /Kids [{refs}] /Count {len(kids)} >>".encode()
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        catalog,
        xref,
    )
    path.write_bytes(bytes(out))


@dataclass
class Table:
    """A table to draw: `rows` of cell texts; `spans` {(row, col): columns} for header cells
    that cover several columns (the covered positions hold "")."""

    rows: list[list[str]]
    header_rows: int
    ruled: bool
    booktabs: bool = False
    font: str = "Helvetica"
    size: float = 10
    spans: dict[tuple[int, int], int] = field(default_factory=dict)
    bbox: list[float] = field(default_factory=list)  # set when drawn

    def truth(self) -> dict:
        return {
            "ruled": self.ruled,
            "bbox": self.bbox,
            "header_rows": self.header_rows,
            "rows": self.rows,
        }


def draw_table(canvas: Canvas, table: Table, x: float, top: float) -> float:
    """Draw `table` with its top left corner at (x, top); the y of its bottom edge."""
    size, font = table.size, table.font
    pad = size * (0.5 if table.ruled else 1.0)
    columns = len(table.rows[0])

    def cell_font(row: int) -> str:
        return BOLD[font] if row < table.header_rows else font

    widths = [0.0] * columns
    for r, row in enumerate(table.rows):
        for c, text in enumerate(row):
            if table.spans.get((r, c), 1) == 1:
                widths[c] = max(widths[c], text_width(text, cell_font(r), size))
    widths = [w + 2 * pad for w in widths]
    for (r, c), span in table.spans.items():  # a spanning header wider than its columns
        need = text_width(table.rows[r][c], cell_font(r), size) + 2 * pad
        have = sum(widths[c : c + span])
        if need > have:
            widths[c + span - 1] += need - have
    lefts = [x + sum(widths[:c]) for c in range(columns + 1)]
    height = size * 1.6
    y = top
    for r, row in enumerate(table.rows):
        base = y - height + size * 0.45
        c = 0
        while c < columns:
            span = table.spans.get((r, c), 1)
            text = row[c]
            left, right = lefts[c], lefts[c + span]
            f = cell_font(r)
            if text:
                w = text_width(text, f, size)
                if span > 1:
                    tx = (left + right - w) / 2
                elif _numeric(text) and r >= table.header_rows:
                    tx = right - pad - w
                else:
                    tx = left + pad
                canvas.text(tx, base, text, f, size)
            if table.ruled:
                canvas.line(left, y, left, y - height)
            c += span
        if table.ruled:
            canvas.line(lefts[-1], y, lefts[-1], y - height)
            canvas.line(lefts[0], y, lefts[-1], y)
        y -= height
        if table.booktabs and r == table.header_rows - 1:
            canvas.line(lefts[0], y, lefts[-1], y)
    if table.ruled or table.booktabs:
        canvas.line(lefts[0], y, lefts[-1], y)
    if table.booktabs:
        canvas.line(lefts[0], top, lefts[-1], top)
    table.bbox = [round(v, 2) for v in (lefts[0], y, lefts[-1], top)]
    return y


def _numeric(text: str) -> bool:
    return text.replace(",", "").replace(".", "").replace("-", "").isdigit()


def random_table(rng: random.Random, ruled: bool) -> Table:
    columns = rng.randint(2, 6)
    body = rng.randint(2, 9)
    font = rng.choice(FONTS)
    size = rng.choice((8, 9, 10, 11, 12))
    spans: dict[tuple[int, int], int] = {}
    header = [
        " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 2))).title()
        for _ in range(columns)
    ]
    rows = []
    if columns >= 3 and rng.random() < 0.4:  # a spanning header above the value columns
        top = [""] * columns
        top[1] = "Quarter " + str(rng.randint(1, 4))
        spans[(0, 1)] = columns - 1
        rows.append(top)
    rows.append(header)
    for _ in range(body):
        row = [" ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 3))).capitalize()]
        for _ in range(columns - 1):
            kind = rng.random()
            if kind < 0.1:
                row.append("")
            elif kind < 0.6:
                row.append(f"{rng.randint(0, 99999):,}")
            elif kind < 0.7:
                row.append(f"{rng.uniform(0, 100):.2f}")
            elif kind < 0.8:
                row.append(f"{rng.uniform(-50, 50):.1f}%")
            else:
                row.append(rng.choice(WORDS))
        rows.append(row)
    return Table(rows, len(rows) - body, ruled, not ruled and rng.random() < 0.5, font, size, spans)


def prose(canvas: Canvas, top: float, lines: int) -> float:
    words = PROSE.split()
    y, index = top, 0
    for _ in range(lines):
        line = []
        while index < len(words) * 10:
            word = words[index % len(words)]
            if text_width(" ".join([*line, word]), "Times-Roman", 10) > PAGE_W - 2 * MARGIN:
                break
            line.append(word)
            index += 1
        canvas.text(MARGIN, y - 10, " ".join(line), "Times-Roman", 10)
        y -= 13
    return y


def build(folder: Path, count: int = 24, seed: int = 7) -> list[Path]:
    """`count` documents (half ruled, half unruled; some with several tables on a page, some
    over two pages) written to `folder` with their truth; their paths."""
    rng = random.Random(seed)
    made = []
    for number in range(count):
        ruled = number % 2 == 0
        pages, truth = [], []
        for _page in range(1 + (number % 5 == 4)):
            canvas, tables = Canvas(), []
            y = prose(canvas, PAGE_H - MARGIN, 3)
            for _ in range(1 + (number % 3 == 1)):
                table = random_table(rng, ruled)
                if y - (len(table.rows) + 1) * table.size * 1.6 < MARGIN + 60:
                    break
                y = draw_table(canvas, table, MARGIN, y - 18) - 14
                y = prose(canvas, y, 2)
                tables.append(table.truth())
            pages.append(canvas)
            truth.append({"page": len(pages), "tables": tables})
        path = folder / f"tables-{number:02d}.pdf"
        write_pdf(path, pages)
        path.with_suffix(".json").write_text(json.dumps({"pages": truth}, indent=1))
        made.append(path)
    return made


def cache_folder() -> Path:
    folder = Path(tempfile.gettempdir()) / "pdfq-table-pdfs"
    folder.mkdir(exist_ok=True)
    return folder


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else cache_folder()
    target.mkdir(parents=True, exist_ok=True)
    for made in build(target):
        print(made)
