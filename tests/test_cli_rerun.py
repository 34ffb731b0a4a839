"""`flask pdf reprocess | cancel | failed --retry` in-process (functions/cli/rerun.py;
immediate queue, moto): jobs re-run now, after a delay or at a time of day, and canceled."""

import datetime as dt

from core import exitcodes
from core.clock import parse_time
from tests.support.api import upload
from tests.support.corpus import BAD, GOOD


def rows(stdout: str) -> dict[str, list[str]]:
    return {row[1]: row for row in (line.split("\t") for line in stdout.splitlines())}


def test_reprocess_one_job_with_a_delay(pdf, client):
    job = upload(client, GOOD / "pdfminer_jo.pdf")
    result = pdf("reprocess", job["id"], "--delay", "120")
    assert result.exit_code == exitcodes.OK, result.output
    row = rows(result.stdout)[job["id"]]
    assert row[0] == "scheduled"
    assert 110 < (parse_time(row[4]) - dt.datetime.now(dt.UTC)).total_seconds() <= 120


def test_reprocess_every_failed_job_at_two_in_the_morning(pdf, client, services):
    failed = [upload(client, BAD / "pdfminer_rc4-40.pdf")["id"] for _ in range(2)]
    good = upload(client, GOOD / "pdfminer_jo.pdf")["id"]
    result = pdf("reprocess", "--status", "failed", "--at", "02:00")
    assert result.exit_code == exitcodes.OK, result.output
    found = rows(result.stdout)
    assert set(found) == set(failed)
    for job_id in failed:
        when = parse_time(found[job_id][4])
        assert (when.hour, when.minute) == (2, 0)
        assert dt.timedelta(0) < when - dt.datetime.now(dt.UTC) <= dt.timedelta(days=1)
    assert services.records.get(good, "public").status.value == "succeeded"


def test_reprocess_needs_ids_or_a_status_and_a_valid_time(pdf):
    assert pdf("reprocess").exit_code == exitcodes.USAGE
    result = pdf("reprocess", "--status", "failed", "--at", "25:00")
    assert result.exit_code == exitcodes.USAGE
    assert "--at" in result.output


def test_cancel_a_scheduled_job_then_a_finished_one_fails(pdf, client):
    job = upload(client, GOOD / "pdfminer_jo.pdf")
    pdf("reprocess", job["id"], "--delay", "600")
    result = pdf("cancel", job["id"])
    assert result.exit_code == exitcodes.OK, result.output
    assert rows(result.stdout)[job["id"]][0] == "canceled"
    again = pdf("cancel", job["id"])
    assert again.exit_code == exitcodes.FAILED
    assert "conflict: " in again.stdout


def test_cancel_an_unknown_job_exits_4(pdf):
    result = pdf("cancel", "0" * 32)
    assert result.exit_code == exitcodes.NOT_FOUND


def test_failed_retry_reruns_the_failed_jobs(pdf, client, services):
    job = upload(client, BAD / "pdfminer_rc4-40.pdf")
    result = pdf("failed", "--retry")
    assert result.exit_code == exitcodes.OK, result.output
    assert job["id"] in rows(result.stdout)
    assert "1 failed jobs re-run" in result.stderr
    # Immediate queue: it ran again, and failed again the same way.
    record = services.records.get(job["id"], "public")
    assert record.status.value == "failed"
    assert len(record.attempts) == 2
