"""Small PDFs written for the page's tests: a page with a ruled table between paragraphs
(bench/table_pdfs.py draws it, the standard 14 fonts, no font file), and any number of
distinct one-page PDFs (the service deduplicates the same bytes, so each differs in its text).
"""

from __future__ import annotations

from pathlib import Path

from bench import table_pdfs
from tests.support.hostile import pages_of

# A ruled table: two header rows (the first a cell spanning three columns), an empty cell.
RULED_ROWS = [
    ["", "Quarter 1", "", ""],
    ["Region", "Units", "Price", "Note"],
    ["North", "1,200", "3.50", ""],
    ["South east", "", "12.25", "late"],
    ["West", "87", "0.99", "new"],
]


def ruled_table_pdf(path: Path, rows: list[list[str]] = RULED_ROWS) -> table_pdfs.Table:
    """A one-page PDF (612 x 792 points) at `path`: three lines of prose, a ruled table of
    `rows` (its first row a header spanning all columns but the first, its second a header
    too), two more lines; the table as drawn (its `bbox` in PDF points)."""
    table = table_pdfs.Table(rows=rows, header_rows=2, ruled=True, spans={(0, 1): len(rows[0]) - 1})
    canvas = table_pdfs.Canvas()
    y = table_pdfs.prose(canvas, table_pdfs.PAGE_H - 60, 3)
    y = table_pdfs.draw_table(canvas, table, 60, y - 18) - 14
    table_pdfs.prose(canvas, y, 2)
    table_pdfs.write_pdf(path, [canvas])
    return table


def numbered_pdf(number: int, pages: int = 1, lines: int = 1) -> bytes:
    """A PDF saying its number on each of its `pages` pages, in `lines` lines a page:
    distinct bytes and text for every number (more lines, more work for an engine)."""
    line = b"(Document number %d, a line of text to read.) Tj T*\n" % number
    return pages_of(b"BT /F1 11 Tf 13 TL 72 740 Td\n" + line * lines + b"ET", pages)
