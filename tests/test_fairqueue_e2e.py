"""Fair turns on the live stack (gunicorn, huey_consumer with 2 workers, Redis, moto's S3):
tenant A's 200 queued jobs do not make tenant C's one upload wait behind them, and tenants A
and B, both with batches, take turns on the workers."""

import datetime as dt
import hashlib

import pytest

from tests.support.api import multipart
from tests.support.corpus import GOOD
from tests.support.stack import Stack

pytestmark = pytest.mark.e2e

PDF = (GOOD / "pdfminer_jo.pdf").read_bytes()  # one page: a job of a few milliseconds' work
TOKENS = {tenant: f"{tenant}-token-0123456789abcdefghij" for tenant in ("a", "b", "c")}
WORKERS = 2


@pytest.fixture(scope="module")
def stack(redis_server, moto_server, tmp_path_factory):
    tokens = ",".join(
        f"{tenant}:sha256:{hashlib.sha256(token.encode()).hexdigest()}"
        for tenant, token in TOKENS.items()
    )
    stack = Stack(
        redis_server.url,
        moto_server,
        tmp_path_factory.mktemp("fair-stack"),
        API_TOKENS=tokens,
        TENANT_MAX_JOBS_IN_FLIGHT="1000",
        HUEY_WORKERS=str(WORKERS),
        DEDUP_ENABLED="false",  # every job extracts: the same work for each
    )
    yield stack
    stack.stop()


def upload(stack: Stack, tenant: str) -> str:
    stack.token = TOKENS[tenant]
    body, content_type = multipart(PDF, f"{tenant}.pdf")
    status, job, _ = stack.request("POST", "/api/v1/pdf/documents", body, content_type)
    assert status == 202, job
    return job["id"]


def at(stamp: str) -> dt.datetime:
    return dt.datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def test_a_single_upload_waits_for_one_turn_and_batches_share_the_workers(stack):
    stack.procs["worker"].stop()  # everything queues first, as behind a long backlog
    try:
        ids = {"a": [upload(stack, "a") for _ in range(200)]}
        ids["b"] = [upload(stack, "b") for _ in range(40)]
        ids["c"] = [upload(stack, "c")]
    finally:
        stack.start("worker")
    jobs = {}
    for tenant, job_ids in ids.items():
        stack.token = TOKENS[tenant]
        jobs.update({job_id: (tenant, job) for job_id, job in stack.wait(job_ids).items()})
    assert {job["status"] for _, job in jobs.values()} == {"succeeded"}
    order = sorted(jobs.values(), key=lambda tj: at(tj[1]["started_at"]))
    tenants = [tenant for tenant, _ in order]

    # C's one job had its turn after one job of each other tenant: among the first three
    # to start (each worker took one turn at a time), never behind A's 200.
    assert tenants.index("c") < 1 + 2 + WORKERS, tenants[:10]
    # A and B took turns while both had jobs: B's 40 started among the first 80 or so.
    assert tenants[:82].count("b") >= 38, tenants[:82]

    # The figure: C's wait from its first chance (the first job's start) to its own start,
    # against one job's time from start to end.
    first = at(order[0][1]["started_at"])
    [c] = [job for tenant, job in order if tenant == "c"]
    waited = (at(c["started_at"]) - first).total_seconds()
    one_job = max((at(j["finished_at"]) - at(j["started_at"])).total_seconds() for _, j in order)
    print(f"C waited {waited:.2f} s behind A's 200 jobs; the longest job took {one_job:.2f} s")
