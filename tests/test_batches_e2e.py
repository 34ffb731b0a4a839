"""Batches and live events on the live stack (gunicorn, huey_consumer, Redis, moto's S3): a
batch of 1,000 one-page documents served by a local web server ends with its manifest and a
signed batch.finished webhook; a batch from a prefix of a bucket granted in a second store
(s3rver) is listed page by page by the worker; a job's event stream shows every status in
order and resumes after it is cut."""

import json
import time
import urllib.request
import uuid

import pytest

from core import webhooks
from core.adapters import granted
from core.settings import load_settings
from tests.support.corpus import GOOD
from tests.support.origin import Origin
from tests.support.receiver import Receiver
from tests.support.servers import S3RVER_CREDENTIALS
from tests.support.stack import Stack

pytestmark = pytest.mark.e2e

PDF = (GOOD / "pdfminer_jo.pdf").read_bytes()
SECRET = "a-webhook-secret-long-enough"
COUNT = 1000


@pytest.fixture(scope="module")
def stack(redis_server, moto_server, tmp_path_factory):
    stack = Stack(
        redis_server.url,
        moto_server,
        tmp_path_factory.mktemp("batch-stack"),
        SOURCE_ALLOW_PRIVATE="true",
        WEBHOOK_SECRET=SECRET,
        WEBHOOK_ALLOW_PRIVATE="true",
        TENANT_MAX_JOBS_IN_FLIGHT="0",
        EVENTS_WINDOW_SECONDS="2",
    )
    yield stack
    stack.stop()


@pytest.fixture(scope="module")
def origin():
    server = Origin({f"/{n}.pdf": (200, {}, PDF) for n in range(COUNT)})
    yield server
    server.stop()


def test_a_batch_of_a_thousand_ends_with_its_manifest_and_webhook(stack, origin):
    receiver = Receiver(webhooks.tenant_secret(SECRET, "public"))
    try:
        sources = [origin.url(f"/{n}.pdf") for n in range(COUNT)]
        status, batch = stack.post_json(
            "/api/v1/pdf/batches", {"sources": sources, "callback_url": receiver.url}
        )
        assert status == 202, batch
        path = batch["links"]["self"].removeprefix("/api/v1/pdf")
        deadline = time.monotonic() + 900
        while not (batch := stack.request("GET", f"/api/v1/pdf{path}")[1])["ended_at"]:
            assert time.monotonic() < deadline, f"{batch}\n{stack.logs()}"
            time.sleep(2)
        assert batch["status"] == "finished" and batch["counts"]["succeeded"] == COUNT
        assert batch["pages_done"] == COUNT
        _, manifest, _ = stack.request("GET", f"/api/v1/pdf{path}/manifest")
        lines = [json.loads(line) for line in manifest.splitlines()]
        assert [line["index"] for line in lines] == list(range(COUNT))
        assert {line["status"] for line in lines} == {"succeeded"}
        assert all(line["result_key"] for line in lines)
        [delivery] = receiver.wait_for(1, timeout=60)
        assert delivery["valid"] and delivery["body"]["event"] == "batch.finished"
        assert delivery["body"]["batch"]["counts"]["succeeded"] == COUNT
        assert len(set(origin.requests)) == COUNT
    finally:
        receiver.stop()


PREFIXED = 7  # PDFs under the granted prefix, listed three keys a request


@pytest.fixture(scope="module")
def customer(s3rver_server, moto_server):
    """(grant, store) of a customer's bucket in s3rver holding PREFIXED PDFs under in/batch/,
    a text file there, and a PDF outside the prefix."""
    grant = {
        "bucket": f"customer-{uuid.uuid4().hex[:12]}",
        "endpoint_url": s3rver_server.url,
        "access_key_id": S3RVER_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        "secret_access_key": S3RVER_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        "source_prefix": "in/",
    }
    given = {"PDFQ_ENV_FILE": "", "S3_BUCKET": "unused"}
    settings = load_settings({**given, "TENANT_BUCKETS": json.dumps({"public": grant})})
    store = granted.store(settings, settings.tenant_buckets[0])
    store.configure("create the customer's bucket", "create_bucket")
    for n in range(PREFIXED):
        store.put_bytes(f"in/batch/{n:02d}.pdf", PDF, "application/pdf")
    store.put_bytes("in/batch/notes.txt", b"no PDF here", "text/plain")
    store.put_bytes("in/elsewhere.pdf", PDF, "application/pdf")
    return grant, store


def test_a_batch_from_a_granted_prefix_is_listed_page_by_page_and_ends(
    redis_server, moto_server, customer, tmp_path
):
    grant, _ = customer
    stack = Stack(
        redis_server.url,
        moto_server,
        tmp_path / "granted-stack",
        TENANT_BUCKETS=json.dumps({"public": grant}),
        BATCH_LIST_PAGE_SIZE="3",
    )
    try:
        source = {"bucket": grant["bucket"], "prefix": "in/batch/"}
        status, batch = stack.post_json("/api/v1/pdf/batches", {"sources": [source]})
        assert status == 202 and batch["listing"] == {"done": False}, batch
        path = "/api/v1/pdf" + batch["links"]["self"].removeprefix("/api/v1/pdf")
        deadline = time.monotonic() + 180
        while not (batch := stack.request("GET", path)[1])["ended_at"]:
            assert time.monotonic() < deadline, f"{batch}\n{stack.logs()}"
            time.sleep(0.5)
        assert batch["status"] == "finished" and batch["total"] == PREFIXED + 1
        assert batch["listing"] == {
            "done": True,
            "listed": PREFIXED + 1,
            "truncated": False,
            "next": [],
        }
        assert batch["counts"]["succeeded"] == PREFIXED and batch["counts"]["failed"] == 1
        _, manifest, _ = stack.request("GET", f"{path}/manifest")
        lines = [json.loads(line) for line in manifest.splitlines()]
        names = [f"{n:02d}.pdf" for n in range(PREFIXED)] + ["notes.txt"]
        assert [line["source"] for line in lines] == [
            f"s3://{grant['bucket']}/in/batch/{name}" for name in names
        ]
        assert [line["status"] for line in lines] == ["succeeded"] * PREFIXED + ["failed"]
        assert lines[-1]["error_code"] == "not_a_pdf"
        log = stack.procs["worker"].log()
        pages = f"listed a page of s3://{grant['bucket']}/in/batch/"
        assert log.count(pages) == 3 and "8 keys listed" in log  # 9 keys, 3 a request
    finally:
        stack.stop()


def read_events(stack: Stack, job_id: str, last: str | None) -> list[tuple[str, str, dict]]:
    """One stream, read to its end: (id, event, data) of each event."""
    request = urllib.request.Request(f"{stack.base}/api/v1/pdf/jobs/{job_id}/events")
    if last:
        request.add_header("Last-Event-ID", last)
    with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310 - loopback
        text = answer.read().decode()
    events = []
    for block in text.strip().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        if "event" in fields:
            events.append((fields["id"], fields["event"], json.loads(fields["data"])))
    return events


def test_a_listener_sees_every_status_in_order_across_cut_streams(stack, origin):
    stack.procs["worker"].stop()  # the job waits queued while the first stream runs out
    try:
        status, job = stack.post_json("/api/v1/pdf/documents", {"source_url": origin.url("/0.pdf")})
        assert status == 202, job
        first = read_events(stack, job["id"], None)  # cut after its 2 s window
    finally:
        stack.start("worker")
    seen, last = list(first), first[-1][0]
    deadline = time.monotonic() + 120
    while seen[-1][1] != "end":
        assert time.monotonic() < deadline, seen
        more = read_events(stack, job["id"], last)
        seen += more
        last = more[-1][0] if more else last
    statuses = [data["status"] for _, kind, data in seen if kind == "status"]
    assert statuses == ["queued", "processing", "succeeded"]
    assert len({event_id for event_id, kind, _ in seen if kind == "status"}) == 3
    assert seen[-1][2]["status"] == "succeeded"
