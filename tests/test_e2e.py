"""End to end: real gunicorn, real huey_consumer, real redis-server, moto's S3 server."""

import contextlib
import time
from pathlib import Path

import pytest
from pdfminer.high_level import extract_text

from tests.support.corpus import BAD, GOOD, NEEDS_SANDBOX, expected_outcome, manifest, ocr_read
from tests.support.stack import Stack

pytestmark = pytest.mark.e2e

# Deterministic files from different producers, one to 18 pages.
GOOD_FILES = [
    "pdfminer_dmca.pdf",
    "pdfjs_tracemonkey.pdf",
    "pymupdf_chinese-tables.pdf",
    "pypdf_multilang.pdf",
    "pdfminer_f1040nr.pdf",
    "pypdf_Seige_of_Vicksburg_Sample_OCR.pdf",
]


@pytest.fixture(scope="module")
def stack(redis_server, moto_server, tmp_path_factory):
    stack = Stack(redis_server.url, moto_server, tmp_path_factory.mktemp("stack"))
    yield stack
    stack.stop()


def test_uploaded_pdfs_come_back_with_the_text_extract_text_gives(stack):
    ids = {}
    for name in GOOD_FILES:
        status, job = stack.upload(GOOD / name)
        assert status == 202, job
        assert job["status"] == "queued"
        ids[job["id"]] = name
    jobs = stack.wait(list(ids))
    for job_id, name in ids.items():
        assert jobs[job_id]["status"] == "succeeded", (name, jobs[job_id], stack.logs())
        status, text, headers = stack.request("GET", f"/api/v1/pdf/jobs/{job_id}/result")
        assert status == 200
        assert text == extract_text(GOOD / name), name
        assert jobs[job_id]["pages_done"] == jobs[job_id]["pages_total"] == text.count("\f")


def test_every_bad_file_ends_terminal_and_the_worker_survives(stack):
    expected, ids = {}, {}
    for row in manifest(BAD):
        if row["file"] in NEEDS_SANDBOX:
            continue  # see test_limits_stop_bombs_and_slow_pages_not_the_worker
        want_status, detail = expected_outcome(row)
        status, body = stack.upload(BAD / row["file"])
        if want_status == "rejected":
            assert status in (400, 415), (row["file"], body)
            assert body["error"]["code"] == detail
            continue
        assert status == 202, (row["file"], body)
        ids[body["id"]] = row["file"]
        expected[body["id"]] = (want_status, detail)
    jobs = stack.wait(list(ids), timeout=600)
    scanned = []
    for job_id, job in jobs.items():
        want_status, detail = expected[job_id]
        assert job["status"] == want_status, (ids[job_id], job)
        if want_status == "failed":
            assert job["error"]["code"] == detail, (ids[job_id], job)
        elif detail == "no_text_layer":  # scans: OCRed, with text where they hold any
            assert ocr_read(job["warnings"]), (ids[job_id], job)
            _, document, _ = stack.request("GET", f"/api/v1/pdf/jobs/{job_id}/result?format=json")
            assert all(page["ocr"] for page in document["pages"]), (ids[job_id], document)
            scanned.append(bool(document["chars"] - len(document["pages"])))
        elif detail:
            assert detail in job["warnings"], (ids[job_id], job)
    assert sum(scanned) >= 5, "most scans hold text that OCR finds"
    assert_worker_survived(stack)


@pytest.fixture(scope="module", params=["process", "thread"])
def limited_stack(request, redis_server, moto_server, tmp_path_factory):
    """Limits below what the bomb (inflates to 1 GiB) and the slow page (half a minute or
    more of layout, 550 MB) need. Process workers as many as the cores, as they are sized:
    eight of them starting their children at once would eat the bomb's time."""
    workers = {"process": "2", "thread": "8"}[request.param]
    stack = Stack(
        redis_server.url,
        moto_server,
        tmp_path_factory.mktemp("limited"),
        HUEY_WORKER_TYPE=request.param,
        HUEY_WORKERS=workers,
        EXTRACT_MEMORY_MB="600",
        EXTRACT_TIMEOUT_SECONDS="8",
    )
    yield stack
    stack.stop()


def test_limits_stop_bombs_and_slow_pages_not_the_worker(limited_stack):
    stack = limited_stack
    want = {"gen_flate_bomb.pdf": "memory_limit", "gen_slow_layout.pdf": "timeout"}
    ids = {stack.upload(BAD / name)[1]["id"]: name for name in want}
    for job_id, job in stack.wait(list(ids), timeout=120).items():
        assert job["status"] == "failed", job
        assert job["error"]["code"] == want[ids[job_id]], job
    assert_worker_survived(stack)


def assert_worker_survived(stack):
    assert stack.procs["worker"].alive(), stack.logs()
    _, queue, _ = stack.request("GET", "/api/v1/pdf/queue/status")
    assert queue["jobs"]["processing"] == 0
    assert queue["pending"] == 0
    # The worker still takes new work.
    status, job = stack.upload(GOOD / "pdfminer_jo.pdf")
    assert stack.wait([job["id"]])[job["id"]]["status"] == "succeeded"


def test_health_reports_redis_and_storage(stack):
    status, body, _ = stack.request("GET", "/api/v1/pdf/health")
    assert status == 200
    assert body["checks"]["queue"]["backend"] == "redis"
    assert body["checks"]["storage"]["ok"] is True


def _descendants(pid: int) -> list[int]:
    """Every process below `pid` (its children, theirs, ...), from /proc."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                stat = (entry / "stat").read_text()
                parent = int(stat[stat.rindex(")") + 2 :].split()[1])
                parents.setdefault(parent, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        below = parents.get(todo.pop(), [])
        found += below
        todo += below
    return found


def _sandbox_children(pid: int) -> list[int]:
    children = []
    for child in _descendants(pid):
        with contextlib.suppress(OSError):
            if b"consumer.sandbox_child" in Path(f"/proc/{child}/cmdline").read_bytes():
                children.append(child)
    return children


def test_each_worker_has_its_sandbox_child_ready_before_its_first_job(
    redis_server, moto_server, tmp_path
):
    fresh = Stack(redis_server.url, moto_server, tmp_path)
    try:
        consumer = fresh.procs["worker"].process.pid
        deadline = time.monotonic() + 30
        while len(_sandbox_children(consumer)) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        # One per extraction slot (2) of the thread workers' one process, no job sent.
        assert len(_sandbox_children(consumer)) == 2
        time.sleep(1)  # and no more: each of the 8 threads warms, the first one for all
        assert len(_sandbox_children(consumer)) == 2
    finally:
        fresh.stop()
