"""The docs name only files and tests that exist: every `path/module.py`, every folder of
pdfq's packages, and every `tests/test_x.py::test_name` (or a following `::test_name`, which
means the same file) mentioned in README.md and docs/."""

import ast
import re
from pathlib import Path

import pytest

from tests.support.servers import ROOT

PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
TOP = r"(?:core|consumer|functions|engines|infra|bench|tests|tools|deploy)"
FILE = re.compile(rf"\b({TOP}/[\w/.-]*\w)(?:::(\w+))?")
FOLLOWING = re.compile(r"`::(\w+)")


def _tests_in(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    return {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}


def _references(page: Path):
    """(line number, path, test name or None) of every reference on the page."""
    for number, line in enumerate(page.read_text().splitlines(), 1):
        last = None
        for match in re.finditer(rf"{FILE.pattern}|{FOLLOWING.pattern}", line):
            if match.group(1):
                last = match.group(1)
                yield number, last, match.group(2)
            elif last:
                yield number, last, match.group(3)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_file_and_test_a_page_names_exists(page):
    missing = []
    for number, name, test in _references(page):
        path = ROOT / name.rstrip("/")
        if not path.exists():
            missing.append(f"{page.name}:{number}: {name}")
        elif test and (path.suffix != ".py" or test not in _tests_in(path)):
            missing.append(f"{page.name}:{number}: {name}::{test}")
    assert missing == []
