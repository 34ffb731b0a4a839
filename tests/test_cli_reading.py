"""`flask pdf status | result | queue | failed | provision` in-process
(functions/cli/reading.py; immediate queue, moto): what each prints, and the exit codes
scripts rely on for unknown, unfinished, failed and expired jobs."""

import json
import os
import subprocess

import pytest
from pdfminer.high_level import extract_text

from core import exitcodes
from infra import run_record
from tests.support.corpus import BAD, GOOD
from tests.support.jobs import expire_result, recorded_job
from tests.support.servers import BIN, ROOT


def submitted(pdf, path) -> str:
    """The id of the job `flask pdf submit` made for `path` (it has run: immediate queue)."""
    return json.loads(pdf("submit", "--json", str(path)).stdout)["job_id"]


def test_status_prints_a_line_per_job_and_exits_4_for_unknown_ids(pdf):
    job_id = submitted(pdf, GOOD / "pdfminer_dmca.pdf")
    result = pdf("status", job_id)
    assert result.exit_code == 0
    assert result.stdout.split("\t")[:4] == ["succeeded", job_id, "pdfminer_dmca.pdf", "18/18"]
    assert json.loads(pdf("status", "--json", job_id).stdout)["links"]["result"].endswith("/result")
    missing = pdf("status", job_id, "0" * 32)
    assert missing.exit_code == exitcodes.NOT_FOUND
    assert job_id in missing.stdout
    assert f"no job {'0' * 32}" in missing.stderr


def test_result_writes_the_text_or_says_why_there_is_none(pdf, services, tmp_path):
    path = GOOD / "pdfminer_dmca.pdf"
    job_id = submitted(pdf, path)
    out = tmp_path / "out.txt"
    assert pdf("result", job_id, "-o", str(out)).exit_code == 0
    assert out.read_text() == extract_text(path)
    pages = json.loads(pdf("result", job_id, "--format", "json").stdout)["pages"]
    assert len(pages) == 18

    failed = pdf("result", submitted(pdf, BAD / "pdfminer_aes-128.pdf"))
    assert failed.exit_code == exitcodes.FAILED
    assert "encrypted" in failed.stderr

    queued = recorded_job(services)
    not_ready = pdf("result", queued.id)
    assert not_ready.exit_code == exitcodes.NOT_READY
    assert "queued" in not_ready.stderr
    assert pdf("result", "nope").exit_code == exitcodes.NOT_FOUND


def test_result_of_an_expired_result_exits_1_naming_it(pdf, services):
    job_id = submitted(pdf, GOOD / "pdfminer_jo.pdf")
    expire_result(services, job_id)
    result = pdf("result", job_id)
    assert result.exit_code == exitcodes.FAILED
    assert "pdf: result_expired: " in result.stderr


def test_queue_shows_pending_scheduled_in_flight_and_jobs(pdf):
    pdf("submit", str(GOOD / "pdfminer_jo.pdf"), str(BAD / "pdfminer_rc4-40.pdf"))
    shape = json.loads(pdf("queue", "--json").stdout)
    assert shape["pending"] == shape["scheduled"] == shape["in_flight"] == 0
    assert shape["jobs"]["succeeded"] == shape["jobs"]["failed"] == 1
    text = pdf("queue").stdout
    assert "pending\t0\n" in text
    assert "jobs.failed\t1\n" in text


def test_failed_lists_recent_failed_jobs_newest_first(pdf):
    pdf("submit", str(GOOD / "pdfminer_jo.pdf"))
    first = submitted(pdf, BAD / "pdfminer_rc4-40.pdf")
    second = submitted(pdf, BAD / "truncated_tail_test_2861.pdf")
    result = pdf("failed")
    assert result.exit_code == 0
    rows = [line.split("\t") for line in result.stdout.splitlines()]
    assert [row[1] for row in rows] == [second, first]
    assert rows[0][4].startswith("corrupt: ")
    assert "pdf: 2 failed since 7d" in result.stderr
    assert pdf("failed", "--since", "soon").exit_code == exitcodes.USAGE


@pytest.mark.env(CORS_ORIGINS="http://127.0.0.1:8000")  # without, --check fails on CORS
def test_provision_check_exits_6_when_it_would_change_the_bucket(pdf):
    result = pdf("provision", "--check")
    assert result.exit_code == exitcodes.CHANGES_PENDING
    assert "lifecycle: would set" in result.stdout
    assert pdf("provision").exit_code == 0
    assert pdf("provision", "--check").exit_code == 0


def test_status_of_a_deleted_job_says_deleted_as_the_api_does(pdf):
    job_id = submitted(pdf, GOOD / "pdfminer_jo.pdf")
    assert pdf("delete", job_id).exit_code == 0
    gone = pdf("status", job_id, "0" * 32)
    assert gone.exit_code == exitcodes.NOT_FOUND  # the job is gone, as an unknown one is
    assert f"pdf: deleted: job {job_id} (at 20" in gone.stderr  # GET answers 410 deleted
    assert f"not_found: no job {'0' * 32}" in gone.stderr
    assert f"no job {job_id}" not in gone.stderr


def flask_pdf(tmp_path, *args: str) -> subprocess.CompletedProcess:
    """`flask pdf ARGS` in a shell with no S3_ENDPOINT_URL and no AWS credentials: a person's
    second terminal beside `make run`, without `make cli`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "S3_"))}
    env.update(FLASK_APP="functions", PDFQ_DATA_DIR=str(tmp_path / "data"))
    env.update(AWS_EC2_METADATA_DISABLED="true", AWS_CONFIG_FILE=os.devnull)
    env.update(AWS_SHARED_CREDENTIALS_FILE=os.devnull, HUEY_IMMEDIATE="false")
    return subprocess.run(
        [str(BIN / "flask"), "pdf", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_unreachable_storage_beside_make_run_names_make_cli(tmp_path):
    data = tmp_path / "data"
    local = "http://127.0.0.1:9"
    run_record.write(data, {"S3_ENDPOINT_URL": local, "PORT": "8000"}, os.getpid())
    shown = flask_pdf(tmp_path, "status", "0" * 32)
    assert shown.returncode == exitcodes.UNAVAILABLE
    assert "storage_unavailable" in shown.stderr
    assert f"`make run` is serving with its local S3 at {local}" in shown.stderr
    assert 'make cli ARGS="..."' in shown.stderr

    run_record.path(data).unlink()  # no make run: the hint says what else to set
    shown = flask_pdf(tmp_path, "status", "0" * 32)
    assert shown.returncode == exitcodes.UNAVAILABLE
    assert "S3_ENDPOINT_URL is not set, so this is AWS S3" in shown.stderr
    assert 'make cli ARGS="..."' in shown.stderr
