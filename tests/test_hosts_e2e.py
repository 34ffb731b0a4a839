"""Two worker hosts sharing one Redis and one bucket, one of them cut off from Redis: the
other carries on, every job ends once, and the webhook a job owes arrives once.

Host A is a second huey_consumer (the Procfile's worker line, its own temp folder) that
reaches Redis through a proxy the test cuts and restores; storage stays reachable to both.
"""

import os
import signal
import time

import pytest
from pdfminer.high_level import extract_text

from core import keys
from tests.support.api import multipart
from tests.support.corpus import GOOD
from tests.support.proxy import TcpProxy
from tests.support.receiver import Receiver
from tests.support.stack import Stack

pytestmark = pytest.mark.e2e

LONG = GOOD / "pdfminer_i1040nr.pdf"  # 50 pages, about 9 s of extraction
SECRET = "webhook-secret-for-the-hosts-test"
FAST = dict(
    LEASE_SECONDS="3",
    RECONCILE_GRACE_SECONDS="0",
    TASK_RETRY_DELAY="1",
    HUEY_WORKERS="1",
    WEBHOOK_SECRET=SECRET,
    WEBHOOK_ALLOW_PRIVATE="true",
)


@pytest.fixture
def hosts(redis_server, moto_server, tmp_path):
    """A stack whose own worker (host B) is stopped, a proxy in front of Redis, and a way to
    start host A through that proxy; B starts again when the test asks."""
    proxy = TcpProxy(redis_server.port)
    proxy.start()
    stack = Stack(redis_server.url, moto_server, tmp_path / "stack", **FAST)
    stack.procs["worker"].stop()
    (tmp_path / "host-a").mkdir()

    def start_a():
        stack.start(
            "host-a",
            line="worker",
            HUEY_REDIS_URL=f"redis://127.0.0.1:{proxy.port}/0",
            TMPDIR=str(tmp_path / "host-a"),
        )

    yield stack, proxy, start_a
    stack.stop()
    proxy.stop()


def submitted(stack, receiver: Receiver) -> str:
    fields = {"callback_url": receiver.url}
    body, content_type = multipart(LONG.read_bytes(), LONG.name, fields=fields)
    status, job, _ = stack.request("POST", "/api/v1/pdf/documents", body, content_type)
    assert status == 202, job
    return job["id"]


def running(stack, job_id: str) -> dict:
    return stack.wait_until(
        job_id, lambda j: j["status"] == "processing" and (j["pages_done"] or 0) >= 2
    )


def succeeded_events(receiver: Receiver, job_id: str) -> list[dict]:
    return [
        r["body"]
        for r in receiver.received
        if r["body"]["job"]["id"] == job_id and r["body"]["event"] == "job.succeeded"
    ]


def recover_until(stack, done, timeout: float = 120):
    """Recovery passes (as the CLI runs them) until `done()` holds."""
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, stack.logs()
        stack.run("consumer.recovery")
        time.sleep(1)


def test_a_host_cut_off_as_it_finishes_still_owes_its_webhook_and_it_arrives_once(hosts):
    stack, proxy, start_a = hosts
    receiver = Receiver(SECRET)
    try:
        start_a()
        job_id = submitted(stack, receiver)
        running(stack, job_id)
        proxy.stop()  # host A finishes the job with storage but without Redis
        storage = stack.storage()
        deadline = time.monotonic() + 120
        while True:  # the end is written to storage; its webhook could not be queued
            record, _ = storage.get_json(keys.record_key("public", job_id))
            if record["status"] == "succeeded":
                break
            assert time.monotonic() < deadline, stack.logs()
            time.sleep(0.5)
        assert record["webhook_owed"] == "job.succeeded"
        time.sleep(2)
        assert "webhook not queued" in stack.procs["host-a"].log()
        proxy.start()  # the host reconnects
        recover_until(stack, lambda: succeeded_events(receiver, job_id))
        time.sleep(3)  # a second delivery, if any were queued, would land by now
        recover_until(stack, lambda: True)
        [event] = succeeded_events(receiver, job_id)
        assert event["job"]["status"] == "succeeded"
        job = stack.job(job_id)
        assert job["status"] == "succeeded"
        assert [d["ok"] for d in job["deliveries"]] == [True]
        status, text, _ = stack.request("GET", f"/api/v1/pdf/jobs/{job_id}/result")
        assert status == 200 and text == extract_text(LONG)
    finally:
        receiver.stop()


def test_a_host_cut_off_long_enough_is_taken_over_and_its_late_end_is_refused(hosts):
    stack, proxy, start_a = hosts
    receiver = Receiver(SECRET)
    try:
        start_a()
        job_id = submitted(stack, receiver)
        running(stack, job_id)
        host_a = stack.procs["host-a"]
        proxy.stop()
        os.killpg(host_a.pid, signal.SIGSTOP)  # a host stalled as well as cut off
        stack.start("worker")  # host B, on Redis directly
        # A's lease runs out; recovery gives the job to B, which extracts it to the end.
        recover_until(stack, lambda: stack.job(job_id)["status"] == "succeeded", timeout=180)
        os.killpg(host_a.pid, signal.SIGCONT)
        proxy.start()
        time.sleep(5)  # host A wakes up, finds its lease gone or its end refused
        recover_until(stack, lambda: succeeded_events(receiver, job_id))
        time.sleep(3)
        assert len(succeeded_events(receiver, job_id)) == 1
        job = stack.job(job_id)
        assert job["status"] == "succeeded", stack.logs()
        status, text, _ = stack.request("GET", f"/api/v1/pdf/jobs/{job_id}/result")
        assert status == 200 and text == extract_text(LONG)
        # One result object: the run whose end was kept; host A kept nothing of its own.
        left = list(stack.storage().list_keys(keys.results_prefix("public", job_id)))
        assert len(left) == 1, left
    finally:
        receiver.stop()
