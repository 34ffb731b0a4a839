"""The guarantees that lean on the store, on two S3 implementations: moto's server (which
honours conditional writes) and s3rver (which ignores them and has no lifecycle rules or
notifications). Real gunicorn and huey_consumer from the Procfile, a private Redis."""

import concurrent.futures
import json
import re
import signal
import threading
import time

import boto3
import pytest
import requests
from botocore.config import Config
from pdfminer.high_level import extract_text

from core import keys
from tests.support.corpus import GOOD
from tests.support.proxy import TcpProxy
from tests.support.stack import Stack

pytestmark = pytest.mark.e2e

JO = GOOD / "pdfminer_jo.pdf"
LONG = GOOD / "pdfminer_i1040nr.pdf"  # 50 pages, several seconds of extraction
DIRECT = ["pdfminer_dmca.pdf", "pypdf_multilang.pdf"]


@pytest.fixture(scope="module")
def stack(redis_server, s3_store, tmp_path_factory):
    url, credentials = s3_store
    stack = Stack(
        redis_server.url,
        url,
        tmp_path_factory.mktemp("stores"),
        RECONCILE_GRACE_SECONDS="0",
        TASK_RETRY_DELAY="1",
        LEASE_SECONDS="3",
        **credentials,
    )
    yield stack
    stack.stop()


def bucket(stack):
    """A boto3 client on the stack's store, with the stack's credentials."""
    env = stack.env
    client = boto3.client(
        "s3",
        endpoint_url=env["S3_ENDPOINT_URL"],
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        region_name="us-east-1",
        config=Config(s3={"addressing_style": "path"}),
    )
    return client, env["S3_BUCKET"]


def presigned(stack) -> dict:
    """A job awaiting its upload, the file already PUT through its presigned URL."""
    data = JO.read_bytes()
    status, job = stack.post_json(
        "/api/v1/pdf/uploads",
        {"filename": "jo.pdf", "content_type": "application/pdf", "size": len(data)},
    )
    assert status == 201, job
    put = job["upload"]["put"]
    assert requests.put(put["url"], data=data, headers=put["headers"], timeout=30).ok
    return job


def records_by_status(stack) -> dict[str, int]:
    client, name = bucket(stack)
    counts: dict[str, int] = {}
    for page in client.get_paginator("list_objects_v2").paginate(
        Bucket=name, Prefix=keys.RECORDS_PREFIX
    ):
        for item in page.get("Contents", []):
            _, job_id = keys.parse_record_key(item["Key"])
            status = stack.job(job_id)["status"]
            counts[status] = counts.get(status, 0) + 1
    return counts


def test_the_store_s_capabilities_show_in_health(stack, s3_store):
    status, health, _ = stack.request("GET", "/api/v1/pdf/health")
    assert status == 200, health
    store = health["checks"]["storage"]["capabilities"]
    ignores_conditions = "S3RVER" in str(s3_store[1])
    assert store["conditional_create"] is not ignores_conditions
    assert store["conditional_replace"] is not ignores_conditions
    assert store["lifecycle"] is not ignores_conditions
    assert health["checks"]["storage"]["capabilities_source"] == "recorded"


def test_uploads_both_ways_come_back_with_the_text_extract_text_gives(stack):
    direct = {stack.upload(GOOD / name)[1]["id"]: GOOD / name for name in DIRECT}
    job = presigned(stack)
    assert stack.post_json(job["links"]["complete"], {})[0] == 202
    jobs = settled(stack, [*direct, job["id"]])
    for job_id, path in [*direct.items(), (job["id"], JO)]:
        assert jobs[job_id]["status"] == "succeeded", (jobs[job_id], stack.logs())
        status, text, _ = stack.request("GET", f"/api/v1/pdf/jobs/{job_id}/result")
        assert (status, text) == (200, extract_text(path))


def test_a_killed_worker_s_job_is_recovered(stack):
    _, job = stack.upload(LONG)
    stack.wait_until(
        job["id"], lambda j: j["status"] == "processing" and (j["pages_done"] or 0) >= 2
    )
    stack.procs["worker"].stop(signal.SIGKILL)
    stack.start("worker")
    done = settled(stack, [job["id"]], timeout=150)[job["id"]]
    assert done["status"] == "succeeded", stack.logs()
    assert done["attempts"] == 2  # worker_lost, then succeeded


def test_racing_completes_queue_an_upload_once_and_counters_stay_true(stack):
    for _ in range(3):
        job = presigned(stack)
        complete = [job["links"]["complete"]] * 8
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(lambda url: stack.post_json(url, {})[0], complete))
        assert sorted(answers).count(202) == 1, answers
        # A loser may also be told to retry (503, e.g. a read torn by the winner's write).
        assert set(answers) <= {200, 202, 409, 503}, answers
        done = settled(stack, [job["id"]])[job["id"]]
        assert done["status"] == "succeeded"
        assert done["attempts"] == 1  # one task ran it, not several
    # Counters equal the records after a recovery pass (one runs every minute anyway; a
    # pass that overlaps a job's last moves can leave it one pass behind).
    assert stack.run("consumer.recovery").returncode == 0
    _, summary, _ = stack.request("GET", "/api/v1/pdf/queue/status")
    counts = {status: n for status, n in summary["jobs"].items() if n}
    assert counts == records_by_status(stack), summary


def test_a_record_read_while_it_is_rewritten_is_never_a_500(stack):
    _, job = stack.upload(JO)
    settled(stack, [job["id"]])
    client, name = bucket(stack)
    key = keys.record_key("public", job["id"])
    body = client.get_object(Bucket=name, Key=key)["Body"].read()
    stop = threading.Event()

    def rewrite():
        while not stop.is_set():
            client.put_object(Bucket=name, Key=key, Body=body, ContentType="application/json")

    writer = threading.Thread(target=rewrite)
    writer.start()
    try:
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            answers = list(
                pool.map(lambda _: stack.request("GET", f"/api/v1/pdf/jobs/{job['id']}"), range(60))
            )
    finally:
        stop.set()
        writer.join()
    statuses = [status for status, _, _ in answers]
    assert 500 not in statuses, [a for a in answers if a[0] != 200][:3]
    for status, payload, headers in answers:
        if status != 200:
            assert (status, payload["error"]["code"]) == (503, "storage_unavailable")
            assert int(headers["Retry-After"]) > 0


def settled(stack, ids: list[str], timeout: float = 240) -> dict[str, dict]:
    """Each job once terminal, polling as a client would through an outage's aftermath: a
    retryable 503 is an answer to wait on, a 500 never is."""
    deadline, done = time.monotonic() + timeout, {}
    while len(done) < len(ids):
        assert time.monotonic() < deadline, (sorted(set(ids) - set(done)), stack.logs())
        for job_id in set(ids) - set(done):
            status, job, headers = stack.request("GET", f"/api/v1/pdf/jobs/{job_id}")
            if status == 503:
                assert job["error"]["code"] == "storage_unavailable" and headers["Retry-After"]
                continue
            assert status == 200, job
            if job["status"] in ("succeeded", "failed", "canceled"):
                done[job_id] = job
        time.sleep(0.5)
    return done


def queue_empty(stack) -> bool:
    """No job's task is queued or scheduled (the recovery pass a starting worker schedules
    may be)."""
    return [name for name in stack.waiting_tasks() if name != "recover_jobs"] == []


def test_an_s3_outage_longer_than_the_retry_budget_strands_no_job(
    redis_server, s3_store, request, tmp_path
):
    url, credentials = s3_store
    s3rver = request.getfixturevalue("s3rver_server") if credentials else None
    proxy = None if s3rver else TcpProxy(int(url.rsplit(":", 1)[1]))
    if proxy:
        proxy.start()
    stack = Stack(
        redis_server.url,
        proxy.url if proxy else url,
        tmp_path,
        TASK_RETRIES="1",
        TASK_RETRY_DELAY="1",
        RECONCILE_GRACE_SECONDS="0",
        **credentials,
    )
    try:
        stack.procs["worker"].stop()  # the jobs wait in the queue
        ids = [stack.upload(JO)[1]["id"] for _ in range(3)]
        # Storage goes away (s3rver really stops; its objects stay on disk) for longer than
        # the tasks' retries: Huey drops every task.
        if proxy:
            proxy.stop()
        else:
            s3rver.stop()
        try:
            stack.start("worker")
            deadline = time.monotonic() + 60
            while not (queue_empty(stack) and (time.sleep(3) or queue_empty(stack))):
                assert time.monotonic() < deadline, stack.logs()
                time.sleep(0.5)
        finally:
            if proxy:
                proxy.start()
            else:
                s3rver.start()
        result = stack.run("consumer.recovery")
        assert result.returncode == 0, result.stderr
        jobs = settled(stack, ids, timeout=120)
        for job in jobs.values():
            assert job["status"] == "succeeded", (job, stack.logs())
            assert "worker_lost" not in str(job["attempts"])
        # Each run's last retry handed its job back (its failure could not be written either):
        # recovery re-enqueues all three, in this pass or in a worker's pass it waited for.
        passes = stack.procs["worker"].log() + result.stdout
        assert sum(int(n) for n in re.findall(r"requeued: (\d+)", passes)) == 3, passes
    finally:
        stack.stop()
        if proxy:
            proxy.stop()


def test_a_20_second_redis_loss_mid_extraction_ends_with_every_job_succeeded(
    redis_server, s3_store, tmp_path
):
    url, credentials = s3_store
    proxy = TcpProxy(redis_server.port)
    proxy.start()
    stack = Stack(
        f"redis://127.0.0.1:{proxy.port}/0",
        url,
        tmp_path,
        LEASE_SECONDS="10",
        RECONCILE_GRACE_SECONDS="0",
        TASK_RETRY_DELAY="1",
        **credentials,
    )
    try:
        ids = [stack.upload(path)[1]["id"] for path in (LONG, JO, GOOD / DIRECT[0])]
        stack.wait_until(
            ids[0], lambda j: j["status"] == "processing" and (j["pages_done"] or 0) >= 2
        )
        proxy.stop()  # Redis is gone: the queue, leases, progress, counters
        time.sleep(20)
        proxy.start()
        jobs = settled(stack, ids)
        client, name = bucket(stack)
        for job_id, job in jobs.items():
            assert job["status"] == "succeeded", (job, stack.logs())
            record = client.get_object(Bucket=name, Key=keys.record_key("public", job_id))
            outcomes = [a["outcome"] for a in json.loads(record["Body"].read())["attempts"]]
            assert "worker_lost" not in outcomes, outcomes
        # One line per interval per message while Redis was down, without a traceback.
        lines = [json.loads(line) for line in stack.procs["worker"].log().splitlines()]
        reading = [e for e in lines if e["message"].startswith("Error reading")]
        assert 0 < len(reading) <= 12, len(reading)
        assert not [e for e in reading if "exception" in e], reading
        assert not [(e["pid"], e["job_id"]) for e in reading if e.get("job_id")], (ids, lines)
    finally:
        stack.stop()
        proxy.stop()
