"""S3 events end to end: moto's server notifies its own SQS queue of every object created under
inbox/ and sources/; the messages are posted, as a MinIO-style webhook would, to the real
gunicorn, and the real huey_consumer does the work."""

import concurrent.futures
import json
import uuid
from urllib.parse import unquote_plus

import boto3
import pytest
import requests
from pdfminer.high_level import extract_text

from core import keys
from tests.support.corpus import GOOD
from tests.support.stack import Stack

pytestmark = pytest.mark.e2e

SECRET = "e2e-webhook-secret-0123456789"
AUTH = {"Authorization": f"Bearer {SECRET}"}


@pytest.fixture(scope="module")
def stack(redis_server, moto_server, tmp_path_factory):
    stack = Stack(
        redis_server.url,
        moto_server,
        tmp_path_factory.mktemp("events"),
        EVENTS_WEBHOOK_SECRET=SECRET,
    )
    yield stack
    stack.stop()


@pytest.fixture(scope="module")
def queue(stack, moto_server):
    """The SQS queue (on moto's server) that the stack's bucket notifies."""
    sqs = boto3.client("sqs", endpoint_url=moto_server, region_name="us-east-1")
    url = sqs.create_queue(QueueName=f"pdfq-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    stack.storage().client.put_bucket_notification_configuration(
        Bucket=stack.env["S3_BUCKET"],
        NotificationConfiguration={
            "QueueConfigurations": [
                {
                    "QueueArn": arn,
                    "Events": ["s3:ObjectCreated:*"],
                    "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": prefix}]}},
                }
                for prefix in ("inbox/", "sources/")
            ]
        },
    )
    return sqs, url


def forward(stack, queue, sent: list | None = None) -> list[dict]:
    """Take every waiting notification off the queue and post it to the webhook (each event
    posted is appended to `sent`)."""
    sqs, url = queue
    outcomes = []
    while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages"):
        for message in batch:
            event = json.loads(message["Body"])
            status, body = stack.post_json("/api/v1/pdf/events/s3", event, AUTH)
            assert status == 200, body
            outcomes += body["records"]
            if sent is not None:
                sent.append(event)
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return outcomes


def test_one_object_dropped_in_the_inbox_yields_exactly_one_job(stack, queue):
    forward(stack, queue)  # the s3:TestEvent sent when notifications were set up
    storage = stack.storage()
    path = GOOD / "pdfminer_dmca.pdf"
    # What `aws s3 cp dmca.pdf s3://<bucket>/inbox/public/` does.
    key = "inbox/public/dmca.pdf"
    storage.client.upload_file(str(path), storage.bucket, key)

    # The drop's event queues a job; moving the file to sources/ notifies too, and changes nothing.
    events: list[dict] = []
    dropped, copied = forward(stack, queue, events)
    assert dropped["key"] == "inbox/public/dmca.pdf"
    assert dropped["outcome"] == "queued", dropped
    job_id = dropped["job_id"]
    assert (copied["key"], copied["outcome"]) == (keys.source_key("public", job_id), "duplicate")

    job = stack.wait([job_id])[job_id]
    assert job["status"] == "succeeded", stack.logs()
    assert job["filename"] == "dmca.pdf"
    _, text, _ = stack.request("GET", f"/api/v1/pdf/jobs/{job_id}/result")
    assert text == extract_text(path)

    # The same event delivered again (SQS delivers at least once) makes no new job either.
    [event] = [e for e in events if unquote_plus(e["Records"][0]["s3"]["object"]["key"]) == key]
    _, again = stack.post_json("/api/v1/pdf/events/s3", event, AUTH)
    assert [o["outcome"] for o in again["records"]] == ["duplicate"]
    assert forward(stack, queue) == []
    assert list(storage.list_keys("jobs/")) == [keys.record_key("public", job_id)]
    assert list(storage.list_keys("inbox/")) == []


def test_a_presigned_put_is_queued_once_by_its_event_and_racing_completes(stack, queue):
    forward(stack, queue)
    path = GOOD / "pdfminer_jo.pdf"
    data = path.read_bytes()
    status, job = stack.post_json(
        "/api/v1/pdf/uploads",
        {"filename": "jo.pdf", "content_type": "application/pdf", "size": len(data)},
    )
    assert status == 201, job
    put = job["upload"]["put"]
    assert requests.put(put["url"], data=data, headers=put["headers"], timeout=30).ok

    # Eight completes at once over two gunicorn workers, and the upload's own event: one queues.
    # (Real S3 checks If-Match atomically; moto checks then writes, without a lock, but the
    # gap holds no I/O: 40 rounds of this in a row queued exactly once each. The logic itself
    # is proven without timing in test_uploads' stale-copy test.)
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        answers = list(
            pool.map(lambda _: stack.post_json(job["links"]["complete"], {})[0], range(8))
        )
    events = forward(stack, queue)
    queued_by_event = [o for o in events if o["outcome"] == "queued"]
    assert sorted(answers).count(202) + len(queued_by_event) == 1, (answers, events)
    assert set(answers) <= {200, 202}
    done = stack.wait([job["id"]])[job["id"]]
    assert done["status"] == "succeeded"
    assert done["attempts"] == 1
