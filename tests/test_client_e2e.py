"""The `pdfq` command against the live Procfile stack: gunicorn, huey_consumer, a private
redis-server and moto's S3 server, reached only over HTTP as a user's machine would.

The command is installed by pip from pyproject.toml and client/ alone into a temp folder and
run as `pdfq`, so these tests also prove the console script, and that the client needs
nothing of the service's packages.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.api import ACME, GLOBEX, TWO_TENANTS
from tests.support.corpus import BAD, GOOD
from tests.support.origin import Origin
from tests.support.servers import ROOT, child_env, free_port
from tests.support.stack import Stack

pytestmark = pytest.mark.e2e

SMALL = GOOD / "pdfminer_jo.pdf"  # 1 page
LARGE = GOOD / "pymupdf_test_4147.pdf"  # 2.9 MB, 1 page
ENCRYPTED = BAD / "pdfminer_rc4-40.pdf"
NOT_A_PDF = BAD / "text_renamed.pdf"
MIB = str(1024 * 1024)


@pytest.fixture(scope="module")
def stack(redis_server, moto_server, tmp_path_factory):
    stack = Stack(
        redis_server.url,
        moto_server,
        tmp_path_factory.mktemp("client-stack"),
        API_TOKENS=TWO_TENANTS,
        TENANT_MAX_JOBS_IN_FLIGHT="2",
        SOURCE_ALLOW_PRIVATE="true",  # the batch's URLs are this machine's
    )
    stack.token = ACME  # the tests' own look at the service (the command has PDFQ_TOKEN)
    yield stack
    stack.stop()


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The `pdfq` command as `pip install` makes it from pyproject.toml and client/ alone,
    in a folder holding nothing else of the repository."""
    folder = tmp_path_factory.mktemp("client-only")
    source = folder / "source"
    shutil.copytree(ROOT / "client", source / "client", ignore=shutil.ignore_patterns("__py*"))
    shutil.copy(ROOT / "pyproject.toml", source)
    install = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index"]
    install += ["--no-build-isolation", "--target", str(folder / "site"), str(source)]
    subprocess.run(install, check=True, capture_output=True, cwd=folder)
    shutil.rmtree(source)
    return folder


def environment(installed: Path, stack: Stack | None, token: str | None) -> dict[str, str]:
    env = child_env(PYTHONPATH=str(installed / "site"))
    if stack is not None:
        env["PDFQ_URL"] = stack.base
    if token:
        env["PDFQ_TOKEN"] = token
    return env


def pdfq(installed, stack, *args, token=ACME, env=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(installed / "site" / "bin" / "pdfq"), *map(str, args)],
        env=env or environment(installed, stack, token),
        cwd=installed,
        capture_output=True,
        text=True,
        timeout=300,
    )


def idle(stack: Stack, token: str = ACME):
    """Wait until the tenant has no job in flight (earlier tests' jobs hold its slots)."""
    stack.token = token
    deadline = time.monotonic() + 120
    while stack.request("GET", "/api/v1/pdf/me")[1]["jobs_in_flight"]:
        assert time.monotonic() < deadline, stack.logs()
        time.sleep(0.2)


def lines(out: str) -> list[list[str]]:
    return [line.split("\t") for line in out.splitlines()]


def test_submit_wait_sends_small_files_directly_and_large_ones_presigned(
    installed, stack, tmp_path
):
    run = pdfq(
        installed,
        stack,
        "submit",
        "--wait",
        "--direct-max-bytes",
        MIB,
        "-o",
        tmp_path,
        SMALL,
        LARGE,
    )
    assert run.returncode == 0, run.stderr + stack.logs()
    rows = lines(run.stdout)
    assert [(row[0], row[2]) for row in rows] == [
        ("succeeded", str(SMALL)),
        ("succeeded", str(LARGE)),
    ]
    small_id, large_id = rows[0][1], rows[1][1]
    assert "uploading pdfminer_jo.pdf (0.0 MiB, direct)" in run.stderr
    assert "uploading pymupdf_test_4147.pdf (2.8 MiB, presigned)" in run.stderr
    assert "uploaded pymupdf_test_4147.pdf" in run.stderr
    assert f"{large_id} {LARGE}: succeeded" in run.stderr
    assert "2 files: 2 succeeded" in run.stderr
    # The web saw the large file only as its upload's completion: its bytes went to storage.
    web = stack.procs["web"].log()
    assert f"/uploads/{large_id}/complete" in web
    assert f"/uploads/{small_id}/complete" not in web
    stored = stack.storage().head(f"sources/acme/{large_id}.pdf")
    assert stored["ContentLength"] == LARGE.stat().st_size
    # -o wrote each result, exactly what the API serves.
    for job_id, path in ((small_id, SMALL), (large_id, LARGE)):
        _, text, _ = stack.request("GET", f"/api/v1/pdf/jobs/{job_id}/result")
        assert (tmp_path / f"{path.stem}.txt").read_text(encoding="utf-8") == text
        assert text.strip()


def test_status_and_each_result_format(installed, stack, tmp_path):
    submitted = pdfq(installed, stack, "submit", "--json", SMALL)
    assert submitted.returncode == 0, submitted.stderr
    job = json.loads(submitted.stdout)
    assert job["status"] == "queued"
    stack.wait([job["id"]])

    status = pdfq(installed, stack, "status", job["id"])
    assert status.returncode == 0
    assert lines(status.stdout) == [["succeeded", job["id"], "pdfminer_jo.pdf", "1/1 pages"]]
    as_json = json.loads(pdfq(installed, stack, "status", "--json", job["id"]).stdout)
    assert as_json == stack.job(job["id"])

    text = pdfq(installed, stack, "result", job["id"])
    assert text.returncode == 0
    assert text.stdout == stack.request("GET", f"/api/v1/pdf/jobs/{job['id']}/result")[1]
    document = json.loads(pdfq(installed, stack, "result", "--format", "json", job["id"]).stdout)
    assert document["page_count"] == 1
    assert document["pages"][0]["text"] == text.stdout.rstrip("\f")
    pages = pdfq(installed, stack, "result", "--format", "pages", job["id"]).stdout
    assert [json.loads(line)["page"] for line in pages.splitlines()] == [1]
    # --link: the same bytes, straight from storage through the presigned GET.
    assert pdfq(installed, stack, "result", "--link", job["id"]).stdout == text.stdout
    linked = pdfq(installed, stack, "result", "--link", "--format", "pages", job["id"])
    assert linked.stdout == pages
    assert pdfq(installed, stack, "result", "--link", "--format", "json", "x").returncode == 2
    saved = tmp_path / "out.json"
    assert (
        pdfq(installed, stack, "result", "--format", "json", "-o", saved, job["id"]).returncode == 0
    )
    assert json.loads(saved.read_text()) == document


def test_refused_and_failed_files_exit_1_and_the_rest_go_on(installed, stack):
    run = pdfq(installed, stack, "submit", "--wait", NOT_A_PDF, ENCRYPTED, SMALL)
    assert run.returncode == 1, run.stderr
    rows = {row[2]: row for row in lines(run.stdout)}
    assert rows[str(NOT_A_PDF)][:2] == ["refused", "-"]
    assert rows[str(NOT_A_PDF)][3].startswith("not_a_pdf: ")
    assert rows[str(ENCRYPTED)][0] == "failed"
    assert rows[str(ENCRYPTED)][3].startswith("encrypted: ")
    assert rows[str(SMALL)][0] == "succeeded"
    assert "3 files: 1 failed, 1 refused, 1 succeeded" in run.stderr
    failed = rows[str(ENCRYPTED)][1]
    result = pdfq(installed, stack, "result", failed)
    assert result.returncode == 1
    assert "conflict: " in result.stderr


def test_cancel_a_waiting_job_and_the_exit_codes_of_unfinished_and_finished_jobs(
    installed, stack, tmp_path
):
    stack.procs["worker"].stop()
    try:
        submitted = pdfq(installed, stack, "submit", SMALL)
        assert submitted.returncode == 0, submitted.stderr
        job_id = lines(submitted.stdout)[0][1]
        not_ready = pdfq(installed, stack, "result", "-o", tmp_path / "r.txt", job_id)
        assert not_ready.returncode == 5
        assert "result_not_ready" in not_ready.stderr
        assert not (tmp_path / "r.txt").exists()
        waited = pdfq(installed, stack, "status", job_id)
        assert lines(waited.stdout)[0][0] == "queued"

        canceled = pdfq(installed, stack, "cancel", job_id)
        assert canceled.returncode == 0, canceled.stderr
        assert lines(canceled.stdout)[0][:2] == ["canceled", job_id]
        again = pdfq(installed, stack, "cancel", job_id)
        assert again.returncode == 1
        assert lines(again.stdout)[0][3].startswith("conflict: ")
    finally:
        stack.start("worker")
    assert stack.job(job_id)["status"] == "canceled"


def test_a_timed_out_wait_exits_5(installed, stack):
    stack.procs["worker"].stop()
    try:
        run = pdfq(installed, stack, "submit", "--wait", "--timeout", "1", SMALL)
        assert run.returncode == 5, run.stderr
        assert "not finished after 1 s" in run.stderr
    finally:
        stack.start("worker")


def test_unknown_jobs_exit_4_and_other_tenants_jobs_are_unknown(installed, stack):
    run = pdfq(installed, stack, "submit", "--wait", SMALL)
    job_id = lines(run.stdout)[0][1]
    for command in ("status", "result", "cancel"):
        assert pdfq(installed, stack, command, "0" * 32).returncode == 4
        assert pdfq(installed, stack, command, job_id, token=GLOBEX).returncode == 4


def test_configuration_and_connection_errors(installed, stack):
    unset = pdfq(installed, None, "status", "x", env=environment(installed, None, None))
    assert unset.returncode == 2
    assert "Set PDFQ_URL" in unset.stderr
    wrong = pdfq(installed, stack, "status", "x", token="not-a-token")
    assert wrong.returncode == 2
    assert "invalid_token" in wrong.stderr
    missing = pdfq(installed, stack, "status", "x", token=None)
    assert missing.returncode == 2
    assert "unauthorized" in missing.stderr
    env = environment(installed, None, ACME)
    env["PDFQ_URL"] = f"http://127.0.0.1:{free_port()}"
    down = pdfq(installed, None, "--retries", "1", "status", "x", env=env)
    assert down.returncode == 3
    assert "trying again in 1 s (1/1)" in down.stderr
    assert "unavailable: cannot reach" in down.stderr


def test_a_missing_token_is_said_first_and_no_file_is_sent(installed, stack):
    """The service answers 401 before it reads a body and closes the connection: the
    command must not take that for a network failure while it sends a 2.9 MB file."""
    run = pdfq(installed, stack, "submit", "--direct", LARGE, token=None)
    assert run.returncode == 2, run.stderr
    assert run.stderr.splitlines()[0].startswith("pdfq: unauthorized: "), run.stderr
    for wrong in ("cannot reach", "trying again", "uploaded"):
        assert wrong not in run.stderr


def test_429_is_retried_after_its_retry_after(installed, stack):
    """Two jobs in flight fill acme's TENANT_MAX_JOBS_IN_FLIGHT (2) while the worker is
    stopped; the third file waits out each 429's Retry-After (10 s) and goes in once the
    worker is back."""
    idle(stack)
    stack.procs["worker"].stop()
    try:
        env = environment(installed, stack, ACME)
        args = [installed / "site" / "bin" / "pdfq", "submit", "--wait", SMALL, SMALL, SMALL]
        process = subprocess.Popen(
            list(map(str, args)),
            env=env,
            cwd=installed,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        seen = []
        for line in process.stderr:
            seen.append(line)
            if "429 too_many_jobs; trying again in 10 s (1/8)" in line:
                break
        else:
            raise AssertionError("".join(seen))
    finally:
        stack.start("worker")
    out, err = process.communicate(timeout=300)
    assert process.returncode == 0, "".join(seen) + err
    assert [row[0] for row in lines(out)] == ["succeeded"] * 3


def test_429_after_every_retry_exits_3(installed, stack):
    idle(stack)
    stack.procs["worker"].stop()
    try:
        run = pdfq(installed, stack, "--retries", "0", "submit", SMALL, SMALL, SMALL)
        assert run.returncode == 3, run.stderr
        assert len(lines(run.stdout)) == 2  # what went in before stays in
        assert "too_many_jobs" in run.stderr
        ids = [row[1] for row in lines(run.stdout)]
        for job_id in ids:
            assert pdfq(installed, stack, "cancel", job_id).returncode == 0
    finally:
        stack.start("worker")


def test_batch_sends_a_file_of_urls_and_follows_it_to_its_manifest(installed, stack, tmp_path):
    served = (200, {}, SMALL.read_bytes())
    origin = Origin({"/a.pdf": served, "/b.pdf": served})
    try:
        urls = tmp_path / "urls.txt"
        urls.write_text(f"# two papers\n{origin.url('/a.pdf')}\n\n{origin.url('/gone.pdf')}\n")
        done = pdfq(installed, stack, "batch", urls, "--wait", "--timeout", "120")
        assert done.returncode == 1, done.stderr  # one source failed
        rows = [line.split("\t") for line in done.stdout.splitlines()]
        assert [(r[0], r[2], r[3]) for r in rows] == [
            ("succeeded", origin.url("/a.pdf"), "-"),
            ("failed", origin.url("/gone.pdf"), "source_rejected"),
        ]
        assert "1 failed, 1 succeeded" in done.stderr
    finally:
        origin.stop()


def test_batch_of_a_folder_uploads_its_pdfs(installed, stack, tmp_path):
    shutil.copy(SMALL, tmp_path / "one.pdf")
    done = pdfq(installed, stack, "batch", tmp_path, "--wait")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("succeeded\t")


def test_submit_wait_follows_the_job_through_its_event_stream(installed, stack):
    """The job's states and its end come from GET /jobs/<id>/events: the web log shows the
    stream and not one poll of the job."""
    idle(stack)
    run = pdfq(installed, stack, "submit", "--wait", SMALL)
    assert run.returncode == 0, run.stderr + stack.logs()
    [row] = lines(run.stdout)
    assert row[0] == "succeeded" and row[3] == "1 pages"
    job_id = row[1]
    assert f"pdfq: {job_id} {SMALL}: succeeded 1/1 pages" in run.stderr
    streamed, polled = (
        f"GET /api/v1/pdf/jobs/{job_id}/events 200",
        f"GET /api/v1/pdf/jobs/{job_id} ",
    )
    deadline = time.monotonic() + 10
    while streamed not in (log := stack.procs["web"].log()):  # written once the stream closed
        assert time.monotonic() < deadline, log[-3000:]
        time.sleep(0.2)
    assert log.count(streamed) == 1 and log.count(polled) == 0


def test_batch_wait_follows_the_batch_through_its_event_stream(installed, stack, tmp_path):
    origin = Origin({"/a.pdf": (200, {}, SMALL.read_bytes())})
    try:
        urls = tmp_path / "urls.txt"
        urls.write_text(f"{origin.url('/a.pdf')}\n")
        done = pdfq(installed, stack, "batch", urls, "--wait", "--timeout", "120")
        assert done.returncode == 0, done.stderr
        batch_id = done.stderr.split("batch ", 1)[1].split(":", 1)[0]
        assert f"pdfq: batch {batch_id}: finished, 1/1 jobs" in done.stderr
        log = stack.procs["web"].log()
        assert f"GET /api/v1/pdf/batches/{batch_id}/events 200" in log
    finally:
        origin.stop()
