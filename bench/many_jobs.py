"""Row k: what the calls that run all day cost against a bucket of many finished jobs.

A stack's bucket gets `finished` succeeded job records written straight into the local S3
server (as if they had run), and 100 open jobs made through the API (presigned uploads
waiting for their PDF). Then each call runs once through the latency proxy, which counts the
storage requests it makes; the same calls on a bucket of fewer jobs are the baseline.
"""

from __future__ import annotations

import concurrent.futures
import os
import time

from core import clock, keys
from core.adapters.storage import Storage
from core.jobs.model import Job, JobStatus
from core.settings import load_settings
from infra import local_s3

OPEN_JOBS = 100
UPLOAD = {"filename": "a.pdf", "content_type": "application/pdf", "size": 1000}


def seed(s3_url: str, bucket: str, finished: int, tenant: str = "public"):
    """`finished` succeeded records of `tenant`, made a day ago, written directly (10
    writers at once: boto3 pools 10 connections)."""
    for name, value in local_s3.FAKE_CREDENTIALS.items():
        os.environ.setdefault(name, value)  # the local server's, as the stack has them
    storage = Storage(load_settings({"S3_ENDPOINT_URL": s3_url, "S3_BUCKET": bucket}))
    now = clock.utcnow()

    def write(number: int):
        job_id = keys.new_job_id(at_ms - number)
        job = Job(
            id=job_id,
            tenant=tenant,
            status=JobStatus.SUCCEEDED,
            filename="old.pdf",
            size=1000,
            source_key=keys.source_key(tenant, job_id),
            created_at=now,
            updated_at=now,
            finished_at=now,
            rev=2,
            result={"key": keys.result_key(tenant, job_id, "run"), "page_count": 1},
        )
        storage.put_json(keys.record_key(tenant, job_id), job.to_record())

    at_ms = int(time.time() * 1000) - 86_400_000
    with concurrent.futures.ThreadPoolExecutor(10) as pool:
        list(pool.map(write, range(finished)))


def costs(stack, proxy) -> dict[str, int]:
    """Storage requests of each call, counted by the proxy in front of the stack's store."""

    def counted(call) -> int:
        time.sleep(0.2)  # nothing else of this stack is talking to storage
        before = proxy.count()
        call()
        return proxy.count() - before

    def ok(method, path, body=None):
        def call():
            if body is None:
                status, answer, _ = stack.request(method, path)
            else:
                status, answer = stack.post_json(path, body)
            assert status in (200, 201), (path, status, answer)

        return call

    def recovery():
        done = stack.run("bench.recovery_pass")
        assert done.returncode == 0, done.stderr

    def hourly():
        done = stack.run("bench.recovery_pass", "--hourly")
        assert done.returncode == 0, done.stderr

    recovery()  # the first pass on this stack's Redis (which starts empty) writes its mark
    return {
        "recovery pass": counted(recovery),
        "hourly pass": counted(hourly),
        "GET /queue/status": counted(ok("GET", "/api/v1/pdf/queue/status")),
        "GET /me": counted(ok("GET", "/api/v1/pdf/me")),
        "GET /jobs (a page of 50)": counted(ok("GET", "/api/v1/pdf/jobs?limit=50")),
        "POST /uploads (limit check)": counted(ok("POST", "/api/v1/pdf/uploads", UPLOAD)),
    }


def measure(servers, finished: int) -> dict[str, int]:
    """The calls' costs on a fresh stack holding `finished` old jobs and 100 open ones."""
    stack = servers.stack(True, TENANT_MAX_JOBS_IN_FLIGHT="1000", LOG_LEVEL="warning")
    try:
        for _ in range(OPEN_JOBS):
            status, answer = stack.post_json("/api/v1/pdf/uploads", UPLOAD)
            assert status == 201, answer
        seed(servers.s3_url, stack.env["S3_BUCKET"], finished)
        # The worker's own periodic tasks talk to storage too: the counts are the calls' alone.
        stack.procs["worker"].stop()
        return costs(stack, servers.proxy)
    finally:
        stack.stop()
