"""Job control across real processes: gunicorn, huey_consumer, redis-server, moto's S3."""

import datetime as dt
import time

import pytest

from core.clock import parse_time
from core.webhooks import tenant_secret
from tests.support.api import multipart
from tests.support.corpus import BAD, GOOD
from tests.support.receiver import Receiver
from tests.support.stack import Stack

pytestmark = pytest.mark.e2e
SECRET = "an-e2e-webhook-secret-value"
PUBLIC_SECRET = tenant_secret(SECRET, "public")  # the open tenant signs like any other


@pytest.fixture(scope="module")
def stack(redis_server, moto_server, tmp_path_factory):
    stack = Stack(
        redis_server.url,
        moto_server,
        tmp_path_factory.mktemp("stack"),
        WEBHOOK_SECRET=SECRET,
        WEBHOOK_ALLOW_PRIVATE="true",
        WEBHOOK_RETRY_DELAY="1",
        OPTIONS_SECRET="an-e2e-options-secret-value",
    )
    yield stack
    stack.stop()


def submit(stack, path, **fields) -> dict:
    """POST /documents with form fields before the file."""
    body, kind = multipart(path.read_bytes(), path.name, fields=fields)
    status, job, _ = stack.request("POST", "/api/v1/pdf/documents", body, kind)
    assert status == 202, job
    return job


def test_a_reprocessed_job_waits_scheduled_then_runs_when_due(stack):
    job = submit(stack, GOOD / "pdfminer_jo.pdf")
    first = stack.wait([job["id"]])[job["id"]]
    assert first["status"] == "succeeded"
    status, body = stack.post_json(f"/api/v1/pdf/jobs/{job['id']}/reprocess", {"delay": 3})
    assert status == 202, body
    assert body["status"] == "scheduled"
    time.sleep(1.5)
    assert stack.job(job["id"])["status"] == "scheduled"  # not before its time
    done = stack.wait_until(job["id"], lambda j: j["status"] == "succeeded", timeout=30)
    assert done["attempts"] == 2
    assert parse_time(done["started_at"]) >= parse_time(body["scheduled_for"])


def test_a_canceled_scheduled_job_never_runs(stack):
    job = submit(stack, GOOD / "pdfminer_jo.pdf")
    stack.wait([job["id"]])
    stack.post_json(f"/api/v1/pdf/jobs/{job['id']}/reprocess", {"delay": 2})
    status, body = stack.post_json(f"/api/v1/pdf/jobs/{job['id']}/cancel", {})
    assert status == 200, body
    assert body["status"] == "canceled"
    time.sleep(5)  # well past its time, with the consumer polling its schedule every second
    after = stack.job(job["id"])
    assert after["status"] == "canceled"
    assert after["started_at"] == body["started_at"]  # it never started again


def test_a_running_job_stops_at_a_page_boundary_and_the_worker_goes_on(stack):
    job = submit(stack, GOOD / "pdfjs_freeculture.pdf")  # 352 pages, about 15 s
    running = stack.wait_until(job["id"], lambda j: (j["pages_done"] or 0) >= 3, timeout=60)
    assert running["status"] == "processing"
    assert running["eta_seconds"] is not None and running["eta_seconds"] > 0
    status, body = stack.post_json(f"/api/v1/pdf/jobs/{job['id']}/cancel", {})
    assert status == 202, body
    assert body["cancel_requested"] is True
    asked = time.monotonic()
    canceled = stack.wait_until(job["id"], lambda j: j["status"] == "canceled", timeout=30)
    assert time.monotonic() - asked < 5
    assert 3 <= canceled["pages_done"] < 352
    status, _, _ = stack.request("GET", f"/api/v1/pdf/jobs/{job['id']}/result")
    assert status == 409
    after = submit(stack, GOOD / "pdfminer_jo.pdf")
    assert stack.wait([after["id"]])[after["id"]]["status"] == "succeeded"


def test_a_webhook_arrives_signed_and_is_retried_when_the_receiver_fails(stack):
    receiver = Receiver(PUBLIC_SECRET, fail_first=1)
    try:
        job = submit(stack, GOOD / "pdfminer_jo.pdf", callback_url=receiver.url)
        received = receiver.wait_for(2, timeout=60)
        assert len(received) == 2, stack.logs()
        assert all(r["valid"] for r in received)
        assert received[0]["body"]["event"] == "job.succeeded"
        assert received[0]["body"]["job"]["id"] == job["id"]
        deliveries = stack.wait_until(job["id"], lambda j: len(j["deliveries"]) == 2)["deliveries"]
        assert [(d["status"], d["ok"]) for d in deliveries] == [(503, False), (204, True)]
        gap = parse_time(deliveries[1]["at"]) - parse_time(deliveries[0]["at"])
        assert gap >= dt.timedelta(seconds=1)  # WEBHOOK_RETRY_DELAY
    finally:
        receiver.stop()


def test_a_password_reaches_the_sandbox_and_a_failure_is_called_back(stack):
    receiver = Receiver(PUBLIC_SECRET)
    try:
        path = BAD / "pdfminer_aes-128.pdf"
        opened = submit(stack, path, password="baz")
        refused = submit(stack, path, callback_url=receiver.url)
        jobs = stack.wait([opened["id"], refused["id"]])
        assert jobs[opened["id"]]["status"] == "succeeded", jobs[opened["id"]]
        assert jobs[refused["id"]]["error"]["code"] == "encrypted"
        [delivery] = receiver.wait_for(1)
        assert delivery["valid"]
        assert delivery["body"]["event"] == "job.failed"
        assert delivery["body"]["job"]["error"]["code"] == "encrypted"
        assert "baz" not in stack.logs()
    finally:
        receiver.stop()
