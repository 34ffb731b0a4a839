"""Outputs bounded where they are made, measured on the real processes: a PDF whose metadata
or text is huge costs the sandbox child, never the worker (huey_consumer) or the web
(gunicorn) that store and serve the result. Peak resident memory comes from the kernel
(VmHWM in /proc/<pid>/status), so no sampling can miss a spike."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import pytest

from core import keys
from tests.support import hostile
from tests.support.api import multipart
from tests.support.corpus import GOOD
from tests.support.stack import Stack

pytestmark = pytest.mark.e2e

# What the issue of a service running many tenants allows one process to reach, whatever
# the PDF: the worker and web processes start at about 100 MB.
CEILING_MB = 300
# What storing or serving a result may add to a warm process: a few 8 MiB transfer buffers,
# one upload at a time of the five result files (text, pages, blocks, Markdown, summary);
# measured 34 MB alone, 47 MB on a loaded machine. Holding 16 M characters whole costs the
# worker about 60 MB more for the text alone (more with its blocks), and the web about 45.
GROWTH_MB = 56


def peak_mb(pid: int) -> float:
    """The process's peak resident memory so far, in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmHWM for {pid}")


def children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


@pytest.fixture
def stack(redis_server, moto_server, tmp_path):
    # Thread workers: the huey_consumer process is the worker parent that stores results;
    # one gunicorn worker serves every request.
    stack = Stack(
        redis_server.url,
        moto_server,
        tmp_path / "stack",
        HUEY_WORKER_TYPE="thread",
        HUEY_WORKERS="2",
        WEB_CONCURRENCY="1",
        DEFAULT_ENGINE="pdfium",
    )
    yield stack
    stack.stop()


def _web_worker(stack: Stack) -> int:
    (worker,) = children(stack.procs["web"].pid)
    return worker


def _upload(stack: Stack, data: bytes, name: str) -> str:
    body, content_type = multipart(data, name)
    status, job, _ = stack.request("POST", "/api/v1/pdf/documents", body, content_type)
    assert status == 202, job
    return job["id"]


def _drain(stack: Stack, path: str) -> int:
    """GET `path` reading the body in chunks, as a client would; the bytes read."""
    size = 0
    with urllib.request.urlopen(stack.base + path, timeout=300) as response:  # noqa: S310
        while chunk := response.read(1 << 20):
            size += len(chunk)
    return size


def _warm(stack: Stack):
    """One ordinary job stored and served, so the processes' baseline includes their imports,
    clients and buffers."""
    job_id = _upload(stack, (GOOD / "pdfjs_tracemonkey.pdf").read_bytes(), "warm.pdf")
    assert stack.wait([job_id])[job_id]["status"] == "succeeded"
    for fmt in ("text", "json", "pages"):
        _drain(stack, f"/api/v1/pdf/jobs/{job_id}/result?format={fmt}")


def test_metadata_pointing_at_one_huge_string_is_cut_in_the_child(stack):
    _warm(stack)
    data = hostile.metadata_bomb(40 * 2**20)
    assert len(data) < 64 * 1024
    job_id = _upload(stack, data, "bomb.pdf")
    job = stack.wait([job_id], timeout=600)[job_id]
    assert job["status"] == "succeeded", (job, stack.logs())
    for _ in range(3):
        stack.job(job_id)
    _drain(stack, f"/api/v1/pdf/jobs/{job_id}/result?format=json")
    worker, web = peak_mb(stack.procs["worker"].pid), peak_mb(_web_worker(stack))
    record = stack.storage().head(keys.record_key("public", job_id))["ContentLength"]
    print(
        f"peak RSS after a 40 MB metadata string: worker {worker:.0f} MB, web {web:.0f} MB; "
        f"job record {record} bytes"
    )
    assert worker < CEILING_MB, stack.logs()
    assert web < CEILING_MB
    assert record < 64 * 1024
    assert "metadata_truncated" in job["warnings"]
    status, result, _ = stack.request("GET", f"/api/v1/pdf/jobs/{job_id}/result?format=json")
    assert status == 200
    assert len(result["metadata"]["title"]) == 2000  # MAX_METADATA_VALUE_CHARS
    assert sum(map(len, result["metadata"].values())) <= 8000  # MAX_METADATA_CHARS


def test_sixteen_million_characters_are_stored_and_served_without_growing_the_processes(
    stack,
):
    _warm(stack)
    worker_pid, web_pid = stack.procs["worker"].pid, _web_worker(stack)
    worker_before, web_before = peak_mb(worker_pid), peak_mb(web_pid)
    data = hostile.long_text(pages=100, lines=1600)  # 16,000,000 characters in 16 KB
    job_id = _upload(stack, data, "long.pdf")
    job = stack.wait([job_id], timeout=600)[job_id]
    assert job["status"] == "succeeded", (job, stack.logs())
    assert job["pages_total"] == 100
    worker_after = peak_mb(worker_pid)
    sizes = {
        fmt: _drain(stack, f"/api/v1/pdf/jobs/{job_id}/result?format={fmt}")
        for fmt in ("text", "pages", "json")
    }
    web_after = peak_mb(web_pid)
    print(
        f"peak RSS for 16 M characters: worker {worker_before:.0f} -> {worker_after:.0f} MB, "
        f"web {web_before:.0f} -> {web_after:.0f} MB"
    )
    assert worker_after - worker_before < GROWTH_MB, stack.logs()
    assert web_after - web_before < GROWTH_MB
    assert max(worker_after, web_after) < CEILING_MB
    assert min(sizes.values()) > 16_000_000


def test_the_json_result_streams_as_valid_json(stack):
    job_id = _upload(stack, hostile.long_text(pages=3, lines=10), "small.pdf")
    assert stack.wait([job_id])[job_id]["status"] == "succeeded"
    with urllib.request.urlopen(  # noqa: S310 - loopback
        stack.base + f"/api/v1/pdf/jobs/{job_id}/result?format=json", timeout=60
    ) as response:
        assert response.headers.get("Transfer-Encoding") == "chunked"
        body = json.loads(response.read())
    assert [page["page"] for page in body["pages"]] == [1, 2, 3]
