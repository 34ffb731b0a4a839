"""Warm sandbox children (consumer/sandbox_pool.py): one child serves extraction after
extraction, is replaced after a timeout, a memory-limit exit, a crash, its number of
requests or when its memory grew, never carries one request's document into the next, and
dies with its worker."""

import dataclasses
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from consumer import parts, sandbox, sandbox_child, sandbox_pool
from core.errors import Encrypted, EngineCrashed, ExtractionTimeout, MemoryLimit
from core.jobs import options
from core.settings import load_settings
from tests.support.corpus import BAD, GOOD, ROOT

LIMITS = {"timeout": 60, "memory_mb": 700}
AUTO = options.for_engine({}, "pdfminer", load_settings({}, dotenv=False))


def copy(name: str, folder: Path, corpus: Path = GOOD) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return shutil.copyfile(corpus / name, folder / "source.pdf")


def extract(path: Path, **run):
    return sandbox.extract(path, engine="pdfminer", **{**LIMITS, **run})


def the_child() -> int:
    """The pid of the one idle child with LIMITS (after an extraction made sure there is one)."""
    return sandbox_pool.idle_pids()[-1]


@pytest.fixture
def doc(tmp_path) -> Path:
    return copy("pdfminer_jo.pdf", tmp_path / "jo")


@pytest.fixture(autouse=True)
def fresh_pool():
    sandbox_pool.close()
    yield
    sandbox_pool.close()


def gone(pid: int, within: float = 10) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


def test_one_child_serves_extraction_after_extraction(doc):
    first = extract(doc).text
    pid = the_child()
    assert [extract(doc).text for _ in range(3)] == [first] * 3
    assert sandbox_pool.idle_pids() == [pid]
    # A fresh Python that imported the engines, not a fork running the worker's main module.
    command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    assert b"consumer.sandbox_child" in command[2]


def test_a_child_that_timed_out_is_replaced(doc, tmp_path):
    extract(doc)
    pid = the_child()
    with pytest.raises(ExtractionTimeout):
        extract(copy("gen_slow_layout.pdf", tmp_path / "slow", BAD), timeout=1)
    assert gone(pid)
    assert extract(doc).text and the_child() != pid


def test_a_child_that_hit_its_memory_cap_is_replaced(doc, tmp_path):
    extract(doc, memory_mb=300)
    pid = sandbox_pool.idle_pids()[-1]
    with pytest.raises(MemoryLimit):
        extract(copy("gen_flate_bomb.pdf", tmp_path / "bomb", BAD), memory_mb=300)
    assert gone(pid)
    assert extract(doc, memory_mb=300).text


def test_a_child_that_crashed_is_replaced_and_the_job_says_so(doc, tmp_path):
    extract(doc)
    pid = the_child()
    # Fourteen pages: the crash after the first lands while the child still works (after a
    # one-page document's only page, its answer could already be on its way).
    long = copy("pdfjs_tracemonkey.pdf", tmp_path / "long")

    def crash(done, total):
        os.kill(pid, signal.SIGSEGV)

    with pytest.raises(EngineCrashed) as info:
        extract(long, on_progress=crash)
    assert "exit code -11" in info.value.message
    assert gone(pid)
    assert extract(doc).text and the_child() != pid


def test_a_child_is_replaced_after_its_number_of_requests(doc):
    recycle = sandbox.Recycle(max_requests=2)
    seen = []
    for _ in range(5):
        extract(doc, recycle=recycle)
        seen.append(sandbox_pool.idle_pids())
    # Two requests each: the second one's child is not kept, the next request starts one.
    assert seen[0] and seen[1] == [] and seen[2] and seen[2] != seen[0] and seen[3] == []


def test_a_child_whose_memory_grew_past_its_bound_is_replaced(doc):
    extract(doc, recycle=sandbox.Recycle(max_rss_mb=1000))
    assert sandbox_pool.idle_pids()
    pid = the_child()
    extract(doc, recycle=sandbox.Recycle(max_rss_mb=1))  # every child is over 1 MB
    assert sandbox_pool.idle_pids() == [] and gone(pid)


def address_space_limit(pid: int) -> int:
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max address space"):
            return int(line.split()[3])
    raise AssertionError("no address space limit")


def test_ocr_raises_the_memory_cap_for_its_request_only(tmp_path):
    scan = copy("pymupdf_test_4034.pdf", tmp_path / "scan", BAD)
    caps = {"memory_mb": 1024, "ocr_memory_mb": 2048, "ocr_page_seconds": 120}
    result = sandbox.extract(scan, engine="pdfminer", options=AUTO, timeout=120, **caps)
    assert all(page.ocr for page in result.pages)
    pid = the_child()
    assert address_space_limit(pid) == 1024 * 2**20  # lowered back once the request ended
    again = sandbox.extract(scan, engine="pdfminer", options=AUTO, timeout=120, **caps)
    assert the_child() == pid and [p.text for p in again.pages] == [p.text for p in result.pages]


def test_a_request_never_sees_an_earlier_requests_document(tmp_path):
    encrypted = copy("pdfminer_aes-128.pdf", tmp_path / "enc", BAD)
    assert extract(encrypted, password="baz").text.strip()
    pid = the_child()
    with pytest.raises(Encrypted):  # the same file, the same child, without the password
        extract(encrypted)
    assert the_child() == pid
    # Another file at the same path: its own text.
    jo = extract(copy("pdfminer_jo.pdf", tmp_path / "enc")).text
    assert jo == extract(copy("pdfminer_jo.pdf", tmp_path / "jo")).text


def test_a_range_goes_to_the_child_that_keeps_its_document_open(tmp_path):
    # Thread workers each download their own copy of a job's source: the ranges name the
    # document, not the path, so the child that read one range reads the next from memory.
    first = copy("pdfjs_tracemonkey.pdf", tmp_path / "thread-1")
    second = copy("pdfjs_tracemonkey.pdf", tmp_path / "thread-2")
    two = sandbox_pool.Recycle(idle=2)
    memory = sandbox.extraction_memory(LIMITS["memory_mb"], None)
    extract(first, pages=(1, 3), document="source@etag", recycle=two)
    keeping = the_child()
    # A second child, given back after the one that keeps the document: the one taken first
    # when the document is not asked for.
    kept, other = sandbox_pool.take(memory, None), sandbox_pool.take(memory, None)
    sandbox_pool.give_back(kept, two)
    sandbox_pool.give_back(other, two)
    assert sandbox_pool.idle_pids() == [keeping, other.pid]
    pages = extract(second, pages=(4, 6), document="source@etag", recycle=two).pages
    assert the_child() == keeping
    whole = extract(first).pages
    assert [p.text for p in pages] == [whole[n].text for n in (3, 4, 5)]


def test_a_count_that_splits_the_document_leaves_its_child_keeping_it(tmp_path):
    # The job's worker counts the pages in a child, then reads the first range: in that child,
    # which walked the page tree for the count.
    first = copy("pdfjs_tracemonkey.pdf", tmp_path / "thread-1")
    second = copy("pdfjs_tracemonkey.pdf", tmp_path / "thread-2")
    two = sandbox_pool.Recycle(idle=2)
    memory = sandbox.extraction_memory(LIMITS["memory_mb"], None)
    with pytest.raises(sandbox.Counted) as counted:
        extract(first, document="source@etag", on_count=lambda pages: False, recycle=two)
    assert counted.value.pages == 14
    counting = the_child()
    kept, other = sandbox_pool.take(memory, None), sandbox_pool.take(memory, None)
    sandbox_pool.give_back(kept, two)
    sandbox_pool.give_back(other, two)
    pages = extract(second, pages=(1, 3), document="source@etag", recycle=two).pages
    assert the_child() == counting
    assert [p.text for p in pages] == [p.text for p in extract(first).pages[:3]]


def holds(pid: int, path: Path) -> bool:
    """Whether process `pid` has `path` open (deleted or not)."""
    folder = f"/proc/{pid}/fd"
    return any(os.readlink(f"{folder}/{fd}").startswith(str(path)) for fd in os.listdir(folder))


def test_a_child_lets_a_kept_document_go_when_no_next_range_comes(tmp_path):
    # Kept open until the child's next request, an erased job's source stayed allocated on
    # the worker's disk, deleted yet held, for as long as the worker had nothing to do.
    path = copy("pdfjs_tracemonkey.pdf", tmp_path / "job")
    extract(path, pages=(1, 2), document="source@etag")
    child = the_child()
    assert holds(child, path)
    path.unlink()  # the job ended: its folder is removed
    deadline = time.monotonic() + sandbox_child.KEEP_OPEN_IDLE_SECONDS + 10
    while holds(child, path) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not holds(child, path)
    assert the_child() == child  # the same child, still serving


@pytest.mark.parametrize(("worker_type", "ready"), [("thread", 2), ("process", 1)])
def test_a_worker_process_warms_a_child_for_each_slot_once(
    services, monkeypatch, worker_type, ready
):
    # Thread workers share one process and its 2 slots; a process worker extracts with one
    # child. Each of a process's workers asks at start-up.
    monkeypatch.setattr(parts, "_warming", threading.Lock(), raising=False)
    settings = dataclasses.replace(services.settings, worker_type=worker_type, extract_slots=2)
    worker = dataclasses.replace(services, settings=settings)
    for _ in range(3):
        parts.warm_sandbox(worker)
    assert len(sandbox_pool.idle_pids()) == ready


WORKER = """
import sys, threading
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from consumer import sandbox, sandbox_pool
path = Path(sys.argv[2])
def run():
    try:
        sandbox.extract(path, engine="pdfminer", timeout=600, memory_mb=0)
    except Exception:
        pass
threading.Thread(target=run, daemon=True).start()
import time
while not sandbox_pool._pool.starter:
    time.sleep(0.01)
time.sleep(1)
import subprocess
print(subprocess.check_output(["pgrep", "-P", str(__import__("os").getpid())]).decode(), flush=True)
time.sleep(600)
"""


def test_children_die_with_their_worker(tmp_path):
    slow = copy("gen_slow_layout.pdf", tmp_path / "slow", BAD)
    worker = subprocess.Popen(
        [sys.executable, "-c", WORKER, str(ROOT), str(slow)], stdout=subprocess.PIPE, text=True
    )
    try:
        [child] = [int(pid) for pid in worker.stdout.readline().split()]
        assert not gone(child, within=0.5), "the child is working"
    finally:
        worker.kill()
        worker.wait()
        worker.stdout.close()
    assert gone(child)


def test_a_child_gets_none_of_the_workers_credentials(doc, monkeypatch):
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "worker-secret-key")
    monkeypatch.setenv("HUEY_REDIS_URL", "redis://:worker-secret-password@localhost/0")
    extract(doc)
    environ = Path(f"/proc/{the_child()}/environ").read_bytes().split(b"\0")
    assert not [line for line in environ if b"worker-secret" in line]
    assert [line for line in environ if line.startswith(b"PATH=")]
