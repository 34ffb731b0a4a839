"""Chaos on the live stack: a stream of corpus jobs with webhooks while workers are killed
(SIGKILL and SIGTERM), the web is killed, and Redis crashes (restarted empty) and pauses.
Every job must end succeeded, with the text pdfminer.six gives, and exactly one
`job.succeeded` webhook.

`PDFQ_CHAOS_JOBS` sets how many jobs the stream carries (default 40 here; `make chaos` runs
333, a few minutes of it).
"""

import os
import signal
import threading
import time
import uuid

import pytest
from pdfminer.high_level import extract_text

from core import webhooks
from tests.support.api import multipart
from tests.support.corpus import GOOD, NONDETERMINISTIC, manifest
from tests.support.receiver import Receiver
from tests.support.servers import RedisServer
from tests.support.stack import Stack

pytestmark = pytest.mark.e2e

SECRET = "webhook-secret-for-the-chaos-test"
JOBS = int(os.environ.get("PDFQ_CHAOS_JOBS", "40"))


def files() -> list:
    """Short corpus files (a few pages each), in turn."""
    names = [
        row["file"]
        for row in manifest(GOOD)
        if int(row["pages"]) <= 6 and row["file"] not in NONDETERMINISTIC
    ]
    return [GOOD / names[n % len(names)] for n in range(JOBS)]


class Chaos:
    """Faults, one every few seconds, in turn, until stopped."""

    def __init__(self, stack: Stack, redis: RedisServer):
        self.stack, self.redis = stack, redis
        self.done = threading.Event()
        self.log: list[str] = []
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        faults = [self._kill_worker, self._pause_redis, self._term_worker, self._kill_web]
        faults += [self._crash_redis]
        number = 0
        while not self.done.wait(4):
            fault = faults[number % len(faults)]
            self.log.append(fault.__name__)
            fault()
            number += 1

    def _kill_worker(self):
        self.stack.procs["worker"].stop(signal.SIGKILL)
        self.stack.start("worker")

    def _term_worker(self):
        worker = self.stack.procs["worker"]
        os.killpg(worker.pid, signal.SIGTERM)
        worker.process.wait(timeout=30)
        self.stack.start("worker")

    def _kill_web(self):
        self.stack.procs["web"].stop(signal.SIGKILL)
        self.stack.start("web")

    def _crash_redis(self):
        self.redis.crash()

    def _pause_redis(self):
        self.redis.process.send_signal(signal.SIGSTOP)
        time.sleep(3)
        self.redis.process.send_signal(signal.SIGCONT)


def send(stack: Stack, path, callback_url: str, deadline: float) -> str:
    """Upload as a careful client does: retried through outages, one Idempotency-Key."""
    body, content_type = multipart(
        path.read_bytes(), path.name, fields={"callback_url": callback_url}
    )
    key = uuid.uuid4().hex
    while True:
        try:
            status, job, _ = stack.request(
                "POST", "/api/v1/pdf/documents", body, content_type, {"Idempotency-Key": key}
            )
            if status == 202:
                return job["id"]
        except OSError:
            pass  # the web was killed mid-request
        assert time.monotonic() < deadline, "an upload was never accepted"
        time.sleep(0.5)


def settled(stack: Stack, ids: list[str], deadline: float) -> dict[str, dict]:
    """Every job's final view, polling through faults, with recovery passes as the minute's."""
    done: dict[str, dict] = {}
    while len(done) < len(ids):
        assert time.monotonic() < deadline, (sorted(set(ids) - set(done))[:5], stack.logs())
        for job_id in ids:
            if job_id in done:
                continue
            try:
                status, job, _ = stack.request("GET", f"/api/v1/pdf/jobs/{job_id}")
            except OSError:
                break
            if status == 200 and job["status"] in ("succeeded", "failed", "canceled"):
                done[job_id] = job
        stack.run("consumer.recovery")
        time.sleep(1)
    return done


def test_a_stream_of_jobs_through_killed_workers_and_web_and_a_crashing_redis(
    tmp_path, moto_server
):
    redis = RedisServer(tmp_path)
    receiver = Receiver(webhooks.tenant_secret(SECRET, "public"))
    stack = None
    try:
        stack = Stack(
            redis.url,
            moto_server,
            tmp_path / "stack",
            LEASE_SECONDS="3",
            RECONCILE_GRACE_SECONDS="1",
            TASK_RETRY_DELAY="1",
            TASK_RETRIES="8",
            HUEY_SHUTDOWN_TIMEOUT="2",
            WEBHOOK_SECRET=SECRET,
            WEBHOOK_ALLOW_PRIVATE="true",
            WEBHOOK_RETRY_DELAY="1",
            TENANT_MAX_JOBS_IN_FLIGHT="0",
            LOG_LEVEL="warning",
        )
        chaos = Chaos(stack, redis)
        chaos.thread.start()
        deadline = time.monotonic() + 120 + JOBS * 2
        sent = {}
        try:
            for path in files():
                sent[send(stack, path, receiver.url, deadline)] = path
                time.sleep(0.3)
            # Faults go on while the jobs run, until each kind has struck at least once.
            while len(chaos.log) < 5:
                time.sleep(1)
        finally:
            chaos.done.set()
            chaos.thread.join()
        jobs = settled(stack, list(sent), deadline + 240)
        failed = {i: j for i, j in jobs.items() if j["status"] != "succeeded"}
        assert not failed, (failed, chaos.log)
        texts = {}
        for job_id, path in sent.items():
            status, text, _ = stack.request("GET", f"/api/v1/pdf/jobs/{job_id}/result")
            assert status == 200
            expected = texts.setdefault(path, extract_text(path))
            assert text == expected, (job_id, path.name)
        # Every webhook owed is sent: a pass of recovery after the faults, then count.
        end = time.monotonic() + 120
        while {r["body"]["job"]["id"] for r in receiver.received} < set(sent):
            assert time.monotonic() < end, chaos.log
            stack.run("consumer.recovery")
            time.sleep(1)
        time.sleep(3)
        counts: dict[str, int] = {}
        for received in receiver.received:
            body = received["body"]
            assert received["valid"] and body["event"] == "job.succeeded", (body, chaos.log)
            counts[body["job"]["id"]] = counts.get(body["job"]["id"], 0) + 1
        extra = {job_id: n for job_id, n in counts.items() if job_id in sent and n != 1}
        assert not extra, (extra, chaos.log)
    finally:
        if stack is not None:
            stack.stop()
        receiver.stop()
        redis.stop()
