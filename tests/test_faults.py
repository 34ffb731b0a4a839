"""Fault tests: real redis-server, real huey_consumer and gunicorn, moto's S3 server.

Each asserts that every job ends succeeded with the right text, or failed with the right
code: none lost, none stuck, none duplicated.
"""

import os
import signal
import time

import pytest
from pdfminer.high_level import extract_text

from tests.support.api import multipart
from tests.support.corpus import BAD, GOOD, manifest
from tests.support.proxy import TcpProxy
from tests.support.receiver import Receiver
from tests.support.stack import Stack

pytestmark = pytest.mark.e2e

LONG = GOOD / "pdfminer_i1040nr.pdf"  # 50 pages, about 9 s of extraction
HOOK_SECRET = "webhook-secret-for-the-fault-tests"
FAST = dict(LEASE_SECONDS="3", RECONCILE_GRACE_SECONDS="0", TASK_RETRY_DELAY="1", HUEY_WORKERS="1")


@pytest.fixture
def make_stack(redis_server, moto_server, tmp_path):
    stacks = []

    def make(s3_url=None, **settings):
        stack = Stack(
            redis_server.url,
            s3_url or moto_server,
            tmp_path / str(len(stacks)),
            **{**FAST, **settings},
        )
        stacks.append(stack)
        return stack

    yield make
    for stack in stacks:
        stack.stop()


def in_flight(stack, job_id) -> dict:
    return stack.wait_until(
        job_id, lambda j: j["status"] == "processing" and (j["pages_done"] or 0) >= 2
    )


def assert_text(stack, job_id, path):
    status, text, _ = stack.request("GET", f"/api/v1/pdf/jobs/{job_id}/result")
    assert status == 200
    assert text == extract_text(path)


def test_sigkill_mid_extraction_completes_after_the_lease_expires(make_stack):
    stack = make_stack()
    _, job = stack.upload(LONG)
    in_flight(stack, job["id"])
    stack.procs["worker"].stop(signal.SIGKILL)  # the whole worker: consumer, workers, children
    stack.start("worker")  # the platform restarts the dyno
    # The lease runs out in 3 s; the pass the new consumer schedules for then re-enqueues the job.
    done = stack.wait([job["id"]], timeout=150)[job["id"]]
    assert done["status"] == "succeeded", stack.logs()
    assert done["attempts"] == 2  # worker_lost, then succeeded
    assert_text(stack, job["id"], LONG)


@pytest.mark.parametrize("worker_type", ["process", "thread"])
def test_sigterm_mid_extraction_requeues_and_completes(make_stack, worker_type):
    stack = make_stack(HUEY_WORKER_TYPE=worker_type, HUEY_SHUTDOWN_TIMEOUT="1")
    _, job = stack.upload(LONG)
    in_flight(stack, job["id"])
    worker = stack.procs["worker"]
    os.killpg(worker.pid, signal.SIGTERM)  # as a platform does: every process of the dyno
    worker.process.wait(timeout=15)
    assert "re-enqueued" in worker.log(), worker.log()
    assert stack.job(job["id"])["status"] == "queued"
    stack.start("worker")
    done = stack.wait([job["id"]], timeout=90)[job["id"]]
    assert done["status"] == "succeeded", stack.logs()
    assert_text(stack, job["id"], LONG)


def test_flushall_loses_no_job_after_reconcile(make_stack, redis_server):
    stack = make_stack()
    # Five jobs scheduled for later, as reprocess-with-delay schedules them.
    scheduled = [stack.upload(GOOD / "pdfminer_jo.pdf")[1]["id"] for _ in range(5)]
    stack.wait(scheduled)
    for job_id in scheduled:
        status, job = stack.post_json(f"/api/v1/pdf/jobs/{job_id}/reprocess", {"delay": 30})
        assert (status, job["status"]) == (202, "scheduled"), job
    ids = []
    _, first = stack.upload(LONG)
    ids.append(first["id"])
    small = [row["file"] for row in manifest(GOOD) if int(row["pages"]) <= 2][:14]
    assert len(small) == 14
    for path in (GOOD / name for name in small):
        ids.append(stack.upload(path)[1]["id"])
    in_flight(stack, first["id"])

    redis_server.client.flushall()  # queue, schedule, leases, markers: all gone

    time.sleep(1)
    result = stack.run("consumer.recovery")
    assert result.returncode == 0, result.stderr
    assert "rescheduled: 5" in result.stdout, result.stdout
    jobs = stack.wait(ids + scheduled, timeout=240)
    assert len(jobs) == 20
    for job in jobs.values():
        assert job["status"] == "succeeded", (job, stack.logs())
    for job_id in scheduled:
        assert jobs[job_id]["started_at"] >= jobs[job_id]["scheduled_for"]
    # Re-running recovery finds nothing to do: nothing was enqueued twice or left behind.
    again = stack.run("consumer.recovery")
    assert "requeued: 0, rescheduled: 0" in again.stdout, again.stdout
    _, queue, _ = stack.request("GET", "/api/v1/pdf/queue/status")
    assert queue["pending"] == queue["scheduled"] == 0


def test_webhooks_owed_when_redis_is_lost_are_delivered_once(make_stack, redis_server):
    receiver = Receiver(HOOK_SECRET)
    try:
        stack = make_stack(WEBHOOK_SECRET=HOOK_SECRET, WEBHOOK_ALLOW_PRIVATE="true")
        # The receiver is down at first: every job's delivery waits for a retry in Redis.
        receiver.fail_first = 10**6
        fields = {"callback_url": receiver.url}
        small = [row["file"] for row in manifest(GOOD) if int(row["pages"]) <= 2][:6]
        ids = []
        for name in small:
            body, content_type = multipart((GOOD / name).read_bytes(), name, fields=fields)
            status, job, _ = stack.request("POST", "/api/v1/pdf/documents", body, content_type)
            assert status == 202, job
            ids.append(job["id"])
        stack.wait(ids)
        receiver.wait_for(len(ids))  # each tried once, and failed: all owed, retries queued
        redis_server.client.flushall()  # the retries, and what said they were queued, gone
        receiver.fail_first = 0
        deadline = time.monotonic() + 120
        while len(receiver.received) < 2 * len(ids):  # recovery finds them owed in storage
            assert time.monotonic() < deadline, stack.logs()
            stack.run("consumer.recovery")
            time.sleep(1)
        time.sleep(3)
        stack.run("consumer.recovery")  # a later pass finds nothing owed any more
        time.sleep(2)
        delivered = [r["body"]["job"]["id"] for r in receiver.received[len(ids) :]]
        assert sorted(delivered) == sorted(ids)  # after the loss: one delivery each
        for job_id in ids:
            job = stack.job(job_id)
            assert [d["ok"] for d in job["deliveries"]][-1] is True
    finally:
        receiver.stop()


def test_storage_down_then_back_retries_and_completes(make_stack, moto_server):
    proxy = TcpProxy(int(moto_server.rsplit(":", 1)[1]))
    proxy.start()
    stack = make_stack(s3_url=proxy.url, TASK_RETRIES="6")
    ids = [
        stack.upload(path)[1]["id"]
        for path in (LONG, GOOD / "pdfminer_dmca.pdf", GOOD / "pdfminer_jo.pdf")
    ]
    in_flight(stack, ids[0])
    proxy.stop()  # for longer than the rest of the first extraction: its writes must fail
    try:
        status, body = stack.upload(GOOD / "pdfminer_jo.pdf")
        assert status == 503, body
        assert body["error"]["code"] == "storage_unavailable"
        status, health, headers = stack.request("GET", "/api/v1/pdf/health")
        assert status == 503 and "storage" in health["error"]["message"]
        assert int(headers["Retry-After"]) > 0
        # Every page read (progress lives in Redis), so the result's write is what fails.
        stack.wait_until(ids[0], lambda j: j["pages_done"] == j["pages_total"], timeout=120)
        deadline = time.monotonic() + 60
        while "storage_unavailable" not in stack.procs["worker"].log():
            assert time.monotonic() < deadline, stack.logs()
            time.sleep(0.5)
    finally:
        proxy.start()
    jobs = stack.wait(ids, timeout=180)
    assert all(job["status"] == "succeeded" for job in jobs.values()), stack.logs()
    assert "storage_unavailable" in stack.procs["worker"].log()
    stack.stop()  # before storage goes: a worker stopping mid-call would wait out its retries
    proxy.stop()


def test_every_redis_key_but_the_queue_and_counters_expires(make_stack, redis_server):
    """Counters (jobs by status, metrics) are a fixed set of keys, bounded by the status and
    error-code vocabularies and the histogram buckets; the sets of open jobs and owed webhooks
    are pruned by every recovery pass (empty once the jobs ended: Redis drops an empty set);
    everything else has a TTL."""
    stack = make_stack()
    ids = [stack.upload(GOOD / name)[1]["id"] for name in ("pdfminer_jo.pdf",)]
    ids.append(stack.upload(BAD / "pdfminer_rc4-40.pdf")[1]["id"])
    stack.wait(ids)
    client = redis_server.client
    for key in client.keys("*"):
        name = key.decode()
        if name.startswith(("huey.redis.", "huey.schedule.")) or ":count:" in name:
            continue
        if ":metrics:" in name or name.endswith((":open-tenants", ":owed-webhooks")):
            continue
        assert client.ttl(key) > 0, f"{name} never expires"
    assert not [k for k in client.keys("*:open:*")], "an open set outlived its jobs"
