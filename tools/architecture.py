"""The house rules, checked from the source (nothing is imported or run):

- no import cycle among pdfq's modules (tests and bench aside), imports inside functions
  included;
- the layers: core imports no other package of pdfq; engines import core only; consumer
  (the worker) imports core and engines, never the web; functions (the web) reach the
  worker only through consumer.tasks, whose task functions the lifecycle enqueues, and
  consumer.page_images, which draws page images in the worker's sandbox children; infra
  imports core only; client (the HTTP client users install) imports nothing of pdfq and
  nothing imports it;
- one owner per job status: only core/jobs/lifecycle.py calls `.transition(`;
- no two modules share a file name (`__init__` and `__main__` aside);
- code and docs describe the system, not its history: no "issue N".

    python tools/architecture.py [checkout]   # the package graph, then each rule broken

Exits 1 when a rule is broken. tests/test_architecture.py runs the same checks.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path

PACKAGES = ("core", "engines", "consumer", "functions", "infra", "client")
# What each package may import of the others (its own modules always).
ALLOWED = {
    "core": set(),
    "engines": {"core"},
    "consumer": {"core", "engines"},
    # consumer.page_images: page images are drawn in sandbox children, never in the web.
    "functions": {"core", "consumer.tasks", "consumer.page_images", "infra"},
    "infra": {"core"},
    # A separate program that talks to the service over HTTP only.
    "client": set(),
}
LIFECYCLE = "core/jobs/lifecycle.py"
HISTORY = re.compile(r"\b[Ii]ssues?[\s#:-]*~?\d+")
SKIPPED = {
    ".git",
    ".venv",
    "node_modules",
    "__pycache__",
    ".pdfq-data",
    ".ruff_cache",
    ".pytest_cache",
}


def modules(root: Path) -> dict[str, Path]:
    """Dotted name -> path of every module in pdfq's packages (and gunicorn.conf)."""
    found = {}
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def imports(root: Path) -> dict[str, set[str]]:
    """Each module's imports of other pdfq modules, wherever in the file they are."""
    found = modules(root)
    graph: dict[str, set[str]] = {name: set() for name in found}
    for name, path in found.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(parent + ([base] if base else []))
                targets = [f"{base}.{alias.name}" for alias in node.names]
            for target in targets:
                while target and target not in found:
                    target = target.rpartition(".")[0]
                if target and target != name:
                    graph[name].add(target)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str):
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in graph[node]:
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            group = []
            while True:
                other = stack.pop()
                group.append(other)
                if other == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    sys.setrecursionlimit(10_000)
    for node in graph:
        if node not in index:
            visit(node)
    return found


def layer_breaks(graph: dict[str, set[str]]) -> list[str]:
    found = []
    for source, targets in sorted(graph.items()):
        top = source.split(".")[0]
        for target in sorted(targets):
            other = target.split(".")[0]
            if other == top:
                continue
            allowed = ALLOWED[top]
            if other not in allowed and target not in allowed:
                found.append(f"{top} may not import {other}: {source} -> {target}")
    return found


def transition_callers(root: Path) -> list[str]:
    calls = []
    for path in modules(root).values():
        relative = path.relative_to(root).as_posix()
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if ".transition(" in line and relative != LIFECYCLE:
                calls.append(f"{relative}:{number} calls transition() (only the lifecycle may)")
    return calls


def shared_file_names(root: Path) -> list[str]:
    names = Counter(
        path.name
        for path in modules(root).values()
        if path.name not in ("__init__.py", "__main__.py")
    )
    return [f"{count} modules are named {name}" for name, count in names.items() if count > 1]


def history(root: Path) -> list[str]:
    found = []
    for path in _files(root):
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue  # not text
        for number, line in enumerate(text.splitlines(), 1):
            if HISTORY.search(line):
                found.append(f"{path.relative_to(root)}:{number} names an issue: {line.strip()}")
    return found


def _files(root: Path) -> list[Path]:
    """The checkout's files: what git tracks or would (not what it ignores), else all."""
    listed = subprocess.run(
        ["git", "-C", str(root), "ls-files", "--cached", "--others", "--exclude-standard"],
        capture_output=True,
        text=True,
    )
    if listed.returncode == 0:
        return [root / name for name in listed.stdout.splitlines() if (root / name).is_file()]
    return [
        path
        for path in sorted(root.rglob("*"))
        if path.is_file() and not SKIPPED & set(path.relative_to(root).parts)
    ]


def violations(root: Path) -> list[str]:
    graph = imports(root)
    return [
        *(f"import cycle of {len(group)}: {', '.join(group)}" for group in cycles(graph)),
        *layer_breaks(graph),
        *transition_callers(root),
        *shared_file_names(root),
        *history(root),
    ]


def package_graph(root: Path) -> str:
    """Package -> package import counts, one line each."""
    edges: dict[tuple[str, str], int] = defaultdict(int)
    for source, targets in imports(root).items():
        for target in targets:
            pair = (source.split(".")[0], target.split(".")[0])
            if pair[0] != pair[1]:
                edges[pair] += 1
    return "\n".join(f"{a} -> {b}: {n} imports" for (a, b), n in sorted(edges.items()))


def main(argv: list[str]) -> int:
    root = Path(argv[0] if argv else Path(__file__).resolve().parent.parent)
    print(package_graph(root))
    broken = violations(root)
    for line in broken:
        print(line)
    print(f"{len(modules(root))} modules; {len(broken)} rules broken")
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
