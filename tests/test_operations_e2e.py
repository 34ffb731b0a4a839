"""Operating the real service: the CLI against gunicorn + huey_consumer, /metrics across two
web workers, and the JSON logs of both processes."""

import json
import os
import pty
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.corpus import BAD, GOOD
from tests.support.servers import BIN, ROOT
from tests.support.stack import Stack

pytestmark = pytest.mark.e2e

GOOD_FILES = [
    "pdfminer_jo.pdf",
    "pdfminer_dmca.pdf",
    "pdfjs_tracemonkey.pdf",
    "pypdf_multilang.pdf",
]
FAILING = {"pdfminer_rc4-40.pdf": "encrypted", "truncated_tail_test_2861.pdf": "corrupt"}
REFUSED = {"text_renamed.pdf": "not_a_pdf"}


@pytest.fixture(scope="module")
def stack(redis_server, moto_server, tmp_path_factory):
    stack = Stack(redis_server.url, moto_server, tmp_path_factory.mktemp("ops-stack"))
    yield stack
    stack.stop()


@pytest.fixture(scope="module")
def submitted(stack, tmp_path_factory):
    """`flask pdf submit --wait <folder>` run as a shell would, stderr on a terminal."""
    folder = tmp_path_factory.mktemp("pdfs")
    for name in GOOD_FILES:
        (folder / name).symlink_to(GOOD / name)
    for name in [*FAILING, *REFUSED]:
        (folder / name).symlink_to(BAD / name)
    terminal, child_side = pty.openpty()
    started = time.monotonic()
    process = subprocess.Popen(
        [str(BIN / "flask"), "--app", "functions", "pdf", "submit", "--wait", str(folder)],
        env={**stack.env, "COLUMNS": "120"},
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=child_side,
    )
    os.close(child_side)
    seen = bytearray()
    reader = threading.Thread(target=_drain, args=(terminal, seen))
    reader.start()
    stdout, _ = process.communicate(timeout=300)
    reader.join(timeout=10)
    os.close(terminal)
    rows = [line.split("\t") for line in stdout.decode().splitlines()]
    return {
        "code": process.returncode,
        "rows": {row[2].rsplit("/", 1)[-1]: row for row in rows},
        "terminal": seen.decode(errors="replace"),
        "seconds": time.monotonic() - started,
    }


def _drain(fd: int, into: bytearray):
    while True:
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # the child closed its side
            return
        if not chunk:
            return
        into.extend(chunk)


def test_cli_submits_a_folder_with_progress_bars_and_reports_outcomes(submitted, stack):
    assert submitted["code"] == 1, submitted  # some files failed: exit 1
    rows = submitted["rows"]
    assert set(rows) == {*GOOD_FILES, *FAILING, *REFUSED}
    for name in GOOD_FILES:
        assert rows[name][0] == "succeeded", (rows[name], stack.logs())
        assert rows[name][3].endswith("pages")
    for name, code in FAILING.items():
        assert rows[name][0] == "failed"
        assert rows[name][3].startswith(f"{code}: ")
    for name, code in REFUSED.items():
        assert rows[name][0] == "refused"
        assert rows[name][3].startswith(f"{code}: ")
    terminal = submitted["terminal"]
    total = len(GOOD_FILES) + len(FAILING) + len(REFUSED)
    assert "Submitting" in terminal and f"{total}/{total}" in terminal
    jobs = len(GOOD_FILES) + len(FAILING)
    assert "Extracting" in terminal and f"{jobs}/{jobs}" in terminal
    assert "pdf: 7 files: 2 failed, 1 refused, 4 succeeded" in terminal


def samples(text: str) -> dict[tuple, float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def access_pids(stack: Stack, path: str) -> set[int]:
    pids = set()
    for line in stack.procs["web"].log().splitlines():
        if line.startswith("{"):
            entry = json.loads(line)
            if entry.get("logger") == "gunicorn.access" and entry.get("path") == path:
                pids.add(entry["pid"])
    return pids


def test_metrics_are_the_same_from_every_web_worker_and_count_the_consumers_work(submitted, stack):
    pages, deadline = [], time.monotonic() + 30
    with ThreadPoolExecutor(max_workers=8) as pool:
        # Concurrent scrapes, so both gunicorn workers answer some of them.
        while len(access_pids(stack, "/metrics")) < 2 and time.monotonic() < deadline:
            pages += pool.map(lambda _: stack.request("GET", "/metrics"), range(16))
    assert len(access_pids(stack, "/metrics")) == 2, "one gunicorn worker answered every scrape"
    assert {status for status, _, _ in pages} == {200}
    bodies = {body for _, body, _ in pages}
    assert len(bodies) == 1, "two web workers gave different numbers"

    found = samples(bodies.pop())
    rows = submitted["rows"]
    pages_total = sum(int(rows[name][3].split()[0]) for name in GOOD_FILES)
    assert found[("pdfq_jobs", (("status", "succeeded"),))] == len(GOOD_FILES)
    assert found[("pdfq_jobs", (("status", "failed"),))] == len(FAILING)
    assert found[("pdfq_document_pages_count", ())] == len(GOOD_FILES)
    assert found[("pdfq_document_pages_sum", ())] == pages_total
    assert found[("pdfq_extraction_seconds_count", ())] == len(GOOD_FILES)
    assert found[("pdfq_extraction_seconds_sum", ())] > 0
    for code in FAILING.values():
        assert found[("pdfq_job_failures_total", (("code", code),))] == 1
    assert found[("pdfq_queue_pending", ())] == 0
    assert found[("pdfq_jobs_in_flight", ())] == 0


def test_every_worker_line_about_a_job_is_json_with_its_id(submitted, stack):
    lines = [json.loads(line) for line in stack.procs["worker"].log().splitlines()]
    job_ids = {row[1] for row in submitted["rows"].values() if row[1] != "-"}
    about_jobs = [entry for entry in lines if any(j in entry["message"] for j in job_ids)]
    assert about_jobs
    for entry in about_jobs:
        assert entry.get("job_id") in job_ids, entry
    # Huey's own lines name a task, not the job: they carry the job id as well.
    executing = [
        e for e in lines if e["message"].startswith("Executing consumer.tasks.extract_document")
    ]
    assert executing and all(e.get("job_id") in job_ids for e in executing)


def test_web_access_lines_carry_the_job_id_and_no_secrets(submitted, stack):
    job_id = submitted["rows"]["pdfminer_jo.pdf"][1]
    status, _, _ = stack.request("GET", f"/api/v1/pdf/jobs/{job_id}?token=s3cr3t")
    assert status == 200
    path, deadline = f"/api/v1/pdf/jobs/{job_id}", time.monotonic() + 10
    while not access_pids(stack, path) and time.monotonic() < deadline:
        time.sleep(0.1)  # gunicorn writes the access line just after the response
    log = stack.procs["web"].log()
    entries = [json.loads(line) for line in log.splitlines()]
    [access] = [e for e in entries if e.get("path") == path]
    assert access["job_id"] == job_id
    assert access["status"] == 200
    assert "s3cr3t" not in log
    assert stack.env["AWS_SECRET_ACCESS_KEY"] not in log + stack.procs["worker"].log()
