"""docs/security.md names a test for each control: every one of them must exist."""

import ast
import re

from tests.support.servers import ROOT

DOC = ROOT / "docs" / "security.md"
REFERENCE = re.compile(r"`(tests/[\w/]+\.py)::(\w+)")


def functions_in(path) -> set[str]:
    """The functions defined in the file at `path` (none when there is no such file)."""
    if not (ROOT / path).is_file():
        return set()
    tree = ast.parse((ROOT / path).read_text())
    return {node.name for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)}


def test_every_test_the_security_doc_names_exists():
    references = REFERENCE.findall(DOC.read_text())
    assert len(references) >= 30
    missing = [f"{path}::{name}" for path, name in references if name not in functions_in(path)]
    assert not missing, f"docs/security.md names tests that do not exist: {missing}"


def test_every_row_of_the_threat_table_names_a_test():
    rows = [line for line in DOC.read_text().splitlines() if line.startswith("| ")][2:]
    assert rows
    for row in rows:
        assert REFERENCE.search(row), f"no test named for: {row[:80]}"
