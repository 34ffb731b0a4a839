"""Row q: table quality. Cell-level exact text accuracy on a generated set (bench/table_pdfs.py:
ruled and unruled tables, with their ground truth) and on the corpus's real tables checked
by hand, and false tables on corpus pages checked by hand to hold none."""

from __future__ import annotations

import json
import time
from pathlib import Path

from bench import table_pdfs
from bench.harness import Row
from engines import pdfminer_engine, tables
from tests.support.corpus import GOOD

RULED_GOAL = 0.95
UNRULED_GOAL = 0.85
FALSE_GOAL = 0.02
# Real tables of the corpus, their cells as printed (checked against the rendered page).
REAL = {
    ("pymupdf_small-table.pdf", 1): {
        "ruled": False,
        "rows": [
            ["Boiling Points °C", "min", "max", "avg"],
            ["Noble gases", "-269", "-62", "-170.5"],
            ["Nonmetals", "-253", "4827", "414.1"],
            ["Metalloids", "335", "3900", "741.5"],
            ["Metals", "357", ">5000", "2755.9"],
        ],
    },
}
# Corpus pages that hold no table (read page by page): running text in one to three
# columns, lists, code, a table of contents, diagrams. Quick mode reads the first of each.
TABLE_FREE = {
    "pdfminer_dmca.pdf": range(1, 19),
    "pdfminer_i1040nr.pdf": [*range(1, 14), *range(15, 24), *range(25, 34)],
    "pdfjs_tracemonkey.pdf": [1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 13, 14],
    "pdfminer_naacl06-shinyama.pdf": [1, 3],
    "pymupdf_test_4751.pdf": [1, 2, 3, 4, 6, 7, 8, 20, 21, 22, 23, 24, 25, 26],
    "pdfminer_pagelabels.pdf": range(1, 6),
    "pdfjs_pdkids.pdf": range(1, 56),
    "pdfjs_file_pdfjs_test.pdf": range(1, 6),
    "pymupdf_test_natural.pdf": range(1, 5),
    "pymupdf_2201.00069.pdf": [1],
}
QUICK_FREE = 10  # pages of each file in quick mode


def cell_accuracy(found: list[dict], truth: dict) -> tuple[int, int]:
    """(cells of `truth` whose text the best-placed found table has exactly, cells)."""
    total = sum(len(row) for row in truth["rows"])
    if "bbox" in truth:
        found = sorted(found, key=lambda t: -_overlap(t["bbox"], truth["bbox"]))
        found = [t for t in found[:1] if _overlap(t["bbox"], truth["bbox"]) > 0]
    best = 0
    for table in found:
        right = 0
        for r, row in enumerate(truth["rows"]):
            for c, text in enumerate(row):
                if r < len(table["rows"]) and c < len(table["rows"][r]):
                    right += table["rows"][r][c]["text"] == text
        best = max(best, right)
    return best, total


def _overlap(a, b) -> float:
    width = min(a[2], b[2]) - max(a[0], b[0])
    height = min(a[3], b[3]) - max(a[1], b[1])
    return max(width, 0) * max(height, 0)


def generated(folder: Path) -> dict[bool, list[int]]:
    """{ruled: [right, cells]} over the generated set."""
    score = {True: [0, 0], False: [0, 0]}
    for path in table_pdfs.build(folder):
        truth = json.loads(path.with_suffix(".json").read_text())["pages"]
        found = tables.extract(path, "", [page["page"] for page in truth])
        for page in truth:
            for table in page["tables"]:
                right, cells = cell_accuracy(found[page["page"]], table)
                score[table["ruled"]][0] += right
                score[table["ruled"]][1] += cells
    return score


def rows(full: bool) -> list[Row]:
    score = generated(table_pdfs.cache_folder())
    for (name, page), truth in REAL.items():
        right, cells = cell_accuracy(tables.extract(GOOD / name, "", [page])[page], truth)
        score[truth["ruled"]][0] += right
        score[truth["ruled"]][1] += cells
    false = pages = 0
    table_seconds = text_seconds = 0.0
    for name, numbers in TABLE_FREE.items():
        numbers = list(numbers) if full else list(numbers)[:QUICK_FREE]
        started = time.monotonic()
        found = tables.extract(GOOD / name, "", numbers)
        table_seconds += time.monotonic() - started
        started = time.monotonic()
        spec = ",".join(map(str, numbers))
        pdfminer_engine.extract(GOOD / name, options={"outputs": [], "pages": spec})
        text_seconds += time.monotonic() - started
        false += sum(1 for page in numbers if found.get(page))
        pages += len(numbers)
    made = []
    for ruled, goal in ((True, RULED_GOAL), (False, UNRULED_GOAL)):
        right, cells = score[ruled]
        kind = "ruled" if ruled else "unruled"
        made.append(
            Row(
                f"q. tables {kind} cell accuracy",
                f"{right}/{cells} cells exact",
                "ground truth of the generated set and the corpus's real tables",
                right / cells,
                f">= {goal}",
                right / cells >= goal,
            )
        )
    share = false / pages
    made.append(
        Row(
            "q. false tables",
            f"{false} of {pages} table-free pages with a table",
            "corpus pages checked to hold no table",
            share,
            f"<= {FALSE_GOAL}",
            share <= FALSE_GOAL,
        )
    )
    made.append(
        Row(
            "q. table cost",
            f"{1000 * table_seconds / pages:.0f} ms a page ({pages} pages)",
            f"pdfminer.six's text of the same pages: {1000 * text_seconds / pages:.0f} ms a page",
            table_seconds / text_seconds,
            "informational",
            None,
        )
    )
    return made
