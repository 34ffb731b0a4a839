"""S3 ObjectCreated events (functions/events.py, functions/inbox.py, functions/s3events.py), as
moto really sends them: bucket notification -> SQS -> handler, and the MinIO-style webhook.
A file dropped in the inbox becomes exactly one job; a presigned upload is completed once,
by its event or by the client, whichever comes first."""

import json

import boto3
import pytest
import requests

from core import keys
from core.errors import BadRequest, JobDeleted, StorageUnavailable
from core.jobs.model import JobStatus
from functions import events
from functions.s3events import created_objects
from tests.support.api import upload
from tests.support.corpus import BAD, GOOD

JO = GOOD / "pdfminer_jo.pdf"
WEBHOOK = "/api/v1/pdf/events/s3"
SECRET = "a-webhook-secret-of-some-length"


class Notifications:
    """An SQS queue that the bucket notifies of every object created under inbox/ and sources/."""

    def __init__(self, storage):
        # moto's server answers every service: SQS too, sharing the process with its S3.
        endpoint = storage.client.meta.endpoint_url
        self.sqs = boto3.client("sqs", region_name="us-east-1", endpoint_url=endpoint)
        self.url = self.sqs.create_queue(QueueName="pdfq-events")["QueueUrl"]
        self.arn = self.sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        storage.client.put_bucket_notification_configuration(
            Bucket=storage.bucket,
            NotificationConfiguration={
                "QueueConfigurations": [
                    {
                        "QueueArn": self.arn,
                        "Events": ["s3:ObjectCreated:*"],
                        "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": prefix}]}},
                    }
                    for prefix in ("inbox/", "sources/")
                ]
            },
        )

    def messages(self) -> list[dict]:
        """Every message waiting in the queue, taken off it."""
        taken = []
        while batch := self.sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10).get(
            "Messages", []
        ):
            for message in batch:
                self.sqs.delete_message(QueueUrl=self.url, ReceiptHandle=message["ReceiptHandle"])
            taken += batch
        return taken

    def events(self) -> list[dict]:
        return [json.loads(message["Body"]) for message in self.messages()]


@pytest.fixture
def storage(services):
    """The test's bucket (moto in this process)."""
    return services.storage


@pytest.fixture
def notified(storage):
    notifications = Notifications(storage)
    notifications.messages()  # S3 sends an s3:TestEvent when notifications are set up
    return notifications


def deliver(services, notified) -> list[dict]:
    """Hand every waiting notification to the event handler; the outcomes, in order."""
    return [record for event in notified.events() for record in events.handle(services, event)]


def job_records(storage) -> list[str]:
    return list(storage.list_keys("jobs/"))


def test_a_file_dropped_in_the_inbox_becomes_exactly_one_job(services, storage, notified, enqueued):
    data = JO.read_bytes()
    storage.client.put_object(
        Bucket=storage.bucket, Key="inbox/public/annual report+1.pdf", Body=data
    )
    [event] = notified.events()
    [outcome] = events.handle(services, event)
    assert outcome["outcome"] == "queued"
    assert outcome["key"] == "inbox/public/annual report+1.pdf"  # decoded from the event

    job = services.records.get(outcome["job_id"], "public")
    assert job.status is JobStatus.SUCCEEDED
    assert job.filename == "annual report+1.pdf"
    assert storage.get_bytes(keys.source_key("public", job.id)) == data
    assert not list(storage.list_keys("inbox/"))  # moved, not left behind

    # The copy into sources/ was itself an event; it and a repeat of the first change nothing.
    later = deliver(services, notified) + events.handle(services, event)
    assert [o["outcome"] for o in later] == ["duplicate", "duplicate"]
    assert {o["job_id"] for o in later} == {job.id}
    assert job_records(storage) == [keys.record_key("public", job.id)]
    assert len(enqueued) == 1


def test_an_sqs_delivery_to_a_lambda_is_unwrapped(
    services, storage, notified, enqueued, monkeypatch
):
    # The Lambda container's Services are built once from its environment: here, the test's.
    monkeypatch.setattr(events, "_lambda_services", lambda: services)
    storage.client.put_object(Bucket=storage.bucket, Key="inbox/public/a.pdf", Body=JO.read_bytes())
    # The event a Lambda subscribed to the queue receives: the S3 event is each record's body.
    lambda_event = {
        "Records": [
            {
                "messageId": message["MessageId"],
                "receiptHandle": message["ReceiptHandle"],
                "body": message["Body"],
                "attributes": {},
                "messageAttributes": {},
                "md5OfBody": message["MD5OfBody"],
                "eventSource": "aws:sqs",
                "eventSourceARN": notified.arn,
                "awsRegion": "us-east-1",
            }
            for message in notified.messages()
        ]
    }
    answer = events.handler(lambda_event, context=None)  # as AWS Lambda calls it
    [outcome] = answer["records"]
    assert outcome["outcome"] == "queued"
    assert services.records.get(outcome["job_id"], "public").status is JobStatus.SUCCEEDED


def test_a_presigned_upload_is_queued_once_by_its_event_and_by_complete(
    client, services, notified, enqueued
):
    job = client.post(
        "/api/v1/pdf/uploads", json={"filename": "jo.pdf", "content_type": "application/pdf"}
    ).get_json()
    post = job["upload"]["post"]
    files = {"file": ("jo.pdf", JO.read_bytes(), "application/pdf")}
    assert requests.post(post["url"], data=post["fields"], files=files, timeout=30).ok

    [outcome] = deliver(services, notified)
    assert (outcome["outcome"], outcome["job_id"]) == ("queued", job["id"])
    # The page's own complete call arrives second: it finds the job queued and queues nothing.
    response = client.post(job["links"]["complete"])
    assert response.status_code == 200
    assert enqueued == [keys.source_key("public", job["id"])]


def test_a_presigned_upload_completed_first_ignores_its_late_event(
    client, services, storage, notified, enqueued
):
    job = client.post(
        "/api/v1/pdf/uploads", json={"filename": "jo.pdf", "content_type": "application/pdf"}
    ).get_json()
    storage.put_bytes(keys.source_key("public", job["id"]), JO.read_bytes())  # as the browser would
    assert client.post(job["links"]["complete"]).status_code == 202
    assert [o["outcome"] for o in deliver(services, notified)] == ["duplicate"]
    assert len(enqueued) == 1


def test_an_upload_to_a_deleted_jobs_url_is_removed_by_its_event(
    client, services, storage, notified, enqueued
):
    job = client.post(
        "/api/v1/pdf/uploads", json={"filename": "jo.pdf", "content_type": "application/pdf"}
    ).get_json()
    assert client.delete(f"/api/v1/pdf/jobs/{job['id']}").status_code == 204
    post = job["upload"]["post"]  # still valid until it expires
    files = {"file": ("jo.pdf", JO.read_bytes(), "application/pdf")}
    assert requests.post(post["url"], data=post["fields"], files=files, timeout=30).ok
    [outcome] = deliver(services, notified)
    assert outcome["outcome"] == "ignored"
    assert list(storage.list_keys(keys.source_key("public", job["id"]))) == []
    assert client.post(job["links"]["complete"]).status_code == 410
    assert enqueued == []


def test_a_direct_upload_is_not_taken_over_by_its_event(client, services, notified, enqueued):
    job = upload(client, JO)
    assert [o["outcome"] for o in deliver(services, notified)] == ["duplicate"]
    assert enqueued == [keys.source_key("public", job["id"])]


def test_a_non_pdf_in_the_inbox_fails_with_its_code_and_is_removed(
    services, storage, notified, enqueued
):
    storage.client.put_object(
        Bucket=storage.bucket, Key="inbox/public/x.pdf", Body=(BAD / "png_renamed.pdf").read_bytes()
    )
    [outcome] = deliver(services, notified)
    assert outcome["outcome"] == "rejected"
    assert outcome["error"]["code"] == "not_a_pdf"
    assert services.records.get(outcome["job_id"], "public").status is JobStatus.FAILED
    assert not list(storage.list_keys("inbox/"))
    assert not list(storage.list_keys("sources/"))
    assert enqueued == []


@pytest.mark.env(MAX_UPLOAD_BYTES="1000")
def test_an_inbox_file_over_the_limit_is_refused_without_copying(services, storage, notified):
    storage.client.put_object(
        Bucket=storage.bucket, Key="inbox/public/big.pdf", Body=b"%PDF-" + b"x" * 2000
    )
    [outcome] = deliver(services, notified)
    assert (outcome["outcome"], outcome["error"]["code"]) == ("rejected", "too_large")
    assert not list(storage.list_keys("sources/"))
    assert not list(storage.list_keys("inbox/"))


def test_a_file_replaced_before_it_was_taken_is_its_own_job(services, storage, notified, enqueued):
    key = "inbox/public/draft.pdf"
    storage.client.put_object(Bucket=storage.bucket, Key=key, Body=b"%PDF-1.4 first version")
    storage.client.put_object(Bucket=storage.bucket, Key=key, Body=JO.read_bytes())
    first, second = deliver(services, notified)
    # The first version is gone: its job says so. The second is a job of its own.
    assert (first["outcome"], first["error"]["code"]) == ("rejected", "source_missing")
    assert second["outcome"] == "queued"
    assert first["job_id"] != second["job_id"]
    assert services.records.get(second["job_id"], "public").status is JobStatus.SUCCEEDED
    assert len(enqueued) == 1


def drop(storage, key: str, data: bytes):
    storage.client.put_object(Bucket=storage.bucket, Key=key, Body=data)


def test_a_file_dropped_again_under_a_deleted_jobs_name_is_a_new_job(
    client, services, storage, notified, enqueued
):
    key = "inbox/public/report.pdf"
    drop(storage, key, JO.read_bytes())
    [event] = notified.events()
    [first] = events.handle(services, event)
    notified.messages()  # the copy into sources/
    assert client.delete(f"/api/v1/pdf/jobs/{first['job_id']}").status_code == 204
    late = events.handle(services, event)  # the first drop's event, delivered again
    assert [(o["outcome"], o.get("job_id")) for o in late] == [("ignored", None)]

    drop(storage, key, JO.read_bytes())  # the same bytes under the same name: the same ETag
    [again] = notified.events()
    [second] = events.handle(services, again)
    assert second["outcome"] == "queued"
    assert second["job_id"] != first["job_id"]
    assert services.records.get(second["job_id"], "public").status is JobStatus.SUCCEEDED
    assert not list(storage.list_keys("inbox/"))
    assert [o["outcome"] for o in events.handle(services, again)] == ["duplicate"]
    assert len(enqueued) == 2


def test_one_objects_failure_does_not_drop_the_others_of_its_event(
    services, storage, notified, monkeypatch
):
    for name in ("a.pdf", "b.pdf", "c.pdf"):
        drop(storage, f"inbox/public/{name}", JO.read_bytes())
    records = [r for event in notified.events() for r in event["Records"]]
    ingest = events.inbox.ingest

    def failing_on_b(runtime, obj, by):
        if obj.key.endswith("b.pdf"):
            raise JobDeleted()
        return ingest(runtime, obj, by)

    monkeypatch.setattr(events.inbox, "ingest", failing_on_b)
    outcomes = events.handle(services, {"Records": records})
    assert [o["outcome"] for o in outcomes] == ["queued", "error", "queued"]
    assert outcomes[1]["reason"].startswith("deleted: ")


def test_a_storage_outage_on_one_object_is_raised_after_the_others_had_their_turn(
    services, storage, notified, monkeypatch
):
    for name in ("a.pdf", "b.pdf"):
        drop(storage, f"inbox/public/{name}", JO.read_bytes())
    records = [r for event in notified.events() for r in event["Records"]]
    ingest = events.inbox.ingest

    def storage_down_for_a(runtime, obj, by):
        if obj.key.endswith("a.pdf"):
            raise StorageUnavailable("storage is down")
        return ingest(runtime, obj, by)

    monkeypatch.setattr(events.inbox, "ingest", storage_down_for_a)
    with pytest.raises(StorageUnavailable):  # so Lambda, SQS or the store sends it again
        events.handle(services, {"Records": records})
    assert not list(storage.list_keys("inbox/public/b.pdf"))  # b was taken all the same


def test_other_keys_buckets_and_event_types_are_ignored(services, storage, enqueued):
    def record(bucket, key, name="ObjectCreated:Put"):
        return {
            "eventName": name,
            "s3": {"bucket": {"name": bucket}, "object": {"key": key, "size": 5, "eTag": "e"}},
        }

    event = {
        "Records": [
            record(storage.bucket, "results/public/x/text.txt"),
            record(storage.bucket, "inbox/no-tenant.pdf"),
            record(storage.bucket, "inbox/public/folder/"),
            record("another-bucket", "inbox/public/a.pdf"),
            record(storage.bucket, "inbox/public/a.pdf", name="ObjectRemoved:Delete"),
        ]
    }
    outcomes = events.handle(services, event)
    assert [o["outcome"] for o in outcomes] == ["ignored"] * 4
    assert not job_records(storage)
    assert events.handle(services, {"Service": "Amazon S3", "Event": "s3:TestEvent"}) == []


def test_keys_are_decoded_as_s3_encodes_them():
    event = {
        "Records": [
            {
                "eventName": "s3:ObjectCreated:Put",  # MinIO's spelling
                "s3": {
                    "bucket": {"name": "b"},
                    "object": {"key": "inbox/public/my+file%2B1%C3%A9.pdf", "eTag": "e"},
                },
            }
        ]
    }
    [created] = created_objects(event)
    assert created.key == "inbox/public/my file+1\u00e9.pdf"
    assert created.size is None


@pytest.mark.parametrize(
    "event",
    [
        [],
        {"Records": "nope"},
        {"Records": [{"eventName": "ObjectCreated:Put", "s3": {}}]},
        {"Records": [{"eventSource": "aws:sqs", "body": "not json"}]},
        # Found by schemathesis: a key that is not a string was a 500.
        {
            "Records": [
                {
                    "eventName": "ObjectCreated:Put",
                    "s3": {"bucket": {"name": "b"}, "object": {"key": 0}},
                }
            ]
        },
        {
            "Records": [
                {
                    "eventName": "ObjectCreated:Put",
                    "s3": {"bucket": {"name": None}, "object": {"key": "k"}},
                }
            ]
        },
    ],
)
def test_a_malformed_event_is_a_bad_request(event):
    with pytest.raises(BadRequest):
        created_objects(event)


def test_one_object_version_always_names_the_same_job():
    at = 1_800_000_000_000
    one = keys.object_job_id("b", "inbox/public/a.pdf", '"abc"', at)
    assert one == keys.object_job_id("b", "inbox/public/a.pdf", "abc", at)
    assert keys.is_job_id(one) and keys.job_id_ms(one) == at
    assert one != keys.object_job_id("b", "inbox/public/a.pdf", "abd", at)
    assert one != keys.object_job_id("c", "inbox/public/a.pdf", "abc", at)
    # The same file dropped again later is a new job.
    assert one != keys.object_job_id("b", "inbox/public/a.pdf", "abc", at + 1)


@pytest.mark.parametrize(
    ("key", "parsed"),
    [
        ("inbox/public/a.pdf", ("public", "a.pdf")),
        ("inbox/t-1/deep/er/b.pdf", ("t-1", "b.pdf")),
        ("inbox/public/", None),
        ("inbox/a.pdf", None),
        ("inbox/Public/a.pdf", None),
        ("sources/public/a.pdf", None),
    ],
)
def test_inbox_keys_name_a_tenant_and_a_file(key, parsed):
    if parsed is None:
        with pytest.raises(ValueError):
            keys.parse_inbox_key(key)
    else:
        assert keys.parse_inbox_key(key) == parsed


# --- the webhook (MinIO style) ---


def test_the_webhook_is_off_without_a_secret(client):
    response = client.post(WEBHOOK, json={"Records": []})
    assert response.status_code == 404
    assert "EVENTS_WEBHOOK_SECRET" in response.get_json()["error"]["message"]


@pytest.mark.env(EVENTS_WEBHOOK_SECRET=SECRET)
@pytest.mark.parametrize("header", [None, "Bearer wrong-secret-of-some-length", SECRET[:-1]])
def test_the_webhook_refuses_a_wrong_secret(client, header):
    headers = {"Authorization": header} if header else {}
    response = client.post(WEBHOOK, json={"Records": []}, headers=headers)
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "unauthorized"


@pytest.mark.env(EVENTS_WEBHOOK_SECRET=SECRET)
def test_the_webhook_handles_what_moto_sends(client, storage, notified, enqueued):
    storage.client.put_object(Bucket=storage.bucket, Key="inbox/public/a.pdf", Body=JO.read_bytes())
    [event] = notified.events()
    # MinIO adds its own top-level fields around the AWS-shaped Records.
    body = {
        "EventName": "s3:ObjectCreated:Put",
        "Key": f"{storage.bucket}/inbox/public/a.pdf",
        **event,
    }
    auth = {"Authorization": f"Bearer {SECRET}"}
    response = client.post(WEBHOOK, json=body, headers=auth)
    assert response.status_code == 200
    [outcome] = response.get_json()["records"]
    assert outcome["outcome"] == "queued"
    again = client.post(WEBHOOK, json=body, headers=auth).get_json()["records"]
    assert again[0]["outcome"] == "duplicate"
    assert len(enqueued) == 1
    bad = client.post(WEBHOOK, data=b"{", headers=auth, content_type="application/json")
    assert bad.status_code == 400
