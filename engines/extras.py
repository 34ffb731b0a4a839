"""Outputs made from a PDF alone, apart from its text: tables and figures, each page's written
to a JSON-lines file (and each figure to a PNG) in a folder the worker stores from.

Run only inside a sandbox child (consumer/sandbox.py `extras`): for a job's figures after its
text, and for outputs asked for after a job finished (consumer/added_outputs.py), which are
made without extracting the text again.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

# The outputs this module makes: nothing else of a job is needed to make them.
MADE = ("tables", "figures")


def run(
    path: str,
    password: str,
    numbers: list[int],
    outputs: list[str],
    folder: str,
    on_page: Callable[[int, int], None],
) -> dict:
    """Write `<output>.jsonl` in `folder` for each of `outputs`, a line {"page", <output>} for
    each page of `numbers`; {"warnings": [...], "figures": count, "bytes": PNG bytes}."""
    out = Path(folder)
    warnings: list[str] = []
    summary: dict = {"warnings": warnings}
    total = len(numbers) * len(outputs)
    done = 0

    def step(_number: int):
        nonlocal done
        done += 1
        on_page(done, total)

    if "tables" in outputs:
        warnings += _tables(path, password, numbers, out, step)
    if "figures" in outputs:
        from engines import figures

        found_pages, found = figures.pages(path, password, numbers, out, on_page=step)
        _lines(out / "figures.jsonl", found_pages)
        warnings += found.warnings
        summary.update(figures=found.figures, bytes=found.bytes)
    return summary


def _tables(path: str, password: str, numbers: list[int], out: Path, step) -> list[str]:
    from engines import tables
    from engines.base import Page

    pages = (Page(number, "") for number in numbers)
    lines = []
    failed = False
    for page in tables.attach(path, password, pages):
        failed = failed or "tables_failed" in page.warnings
        lines.append({"page": page.number, "tables": page.tables})
        step(page.number)
    _lines(out / "tables.jsonl", lines)
    return ["tables_failed"] if failed else []


def _lines(path: Path, items: list[dict]):
    with open(path, "w", encoding="utf-8") as fp:
        for item in items:
            fp.write(json.dumps(item, ensure_ascii=False) + "\n")
