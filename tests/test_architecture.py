"""The house rules hold (tools/architecture.py): no import cycle, the layers, one owner of a
job's status, unique module names, no history in code or docs; and the test markers say
what each test starts."""

import re
from pathlib import Path

import pytest

from tests.support.servers import ROOT
from tools import architecture


def test_the_import_graph_has_no_cycle_and_keeps_the_layers():
    graph = architecture.imports(ROOT)
    assert architecture.cycles(graph) == []
    assert architecture.layer_breaks(graph) == []


def test_the_worker_never_imports_the_web_and_the_web_reaches_it_through_its_tasks():
    """...and through consumer.page_images, which draws page images in sandbox children."""
    graph = architecture.imports(ROOT)
    worker_to_web = {t for s, ts in graph.items() if s.startswith("consumer") for t in ts}
    assert not {t for t in worker_to_web if t.startswith("functions")}
    web_to_worker = {t for s, ts in graph.items() if s.startswith("functions") for t in ts}
    reached = {t for t in web_to_worker if t.startswith("consumer")}
    assert reached == {"consumer.tasks", "consumer.page_images"}


def test_only_the_lifecycle_changes_a_jobs_status():
    assert architecture.transition_callers(ROOT) == []


def test_no_two_modules_share_a_file_name():
    assert architecture.shared_file_names(ROOT) == []


def test_code_and_docs_name_no_issue_numbers():
    assert architecture.history(ROOT) == []


def test_a_deferred_import_that_closes_a_cycle_is_found(tmp_path):
    for package, body in {
        "core": "",
        "consumer": "",
        "core/a.py": "import core.b\n",
        "core/b.py": "def f():\n    import core.a\n",
    }.items():
        path = tmp_path / package
        if body or path.suffix:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(body)
        else:
            path.mkdir()
            (path / "__init__.py").write_text("")
    assert architecture.cycles(architecture.imports(tmp_path)) == [["core.a", "core.b"]]


SERVER_USE = re.compile(r"\b(Stack\(|RedisServer\(|local_s3\.start\(|redis_server|moto_server)")


TEST_FILES = [
    p for p in sorted((ROOT / "tests").glob("test_*.py")) if p.name != Path(__file__).name
]


@pytest.mark.parametrize("path", TEST_FILES, ids=lambda p: p.name)
def test_a_test_file_that_starts_servers_is_marked_for_them(path):
    text = path.read_text()
    if not SERVER_USE.search(text):
        return
    assert re.search(r"pytest\.mark\.(integration|e2e|browser)", text), path.name
