"""pdfq's own retention (consumer/recovery/expiry.py) on a store without lifecycle rules."""

import datetime as dt
import uuid

import boto3
import pytest

from consumer.recovery import expiry
from core import keys
from tests.support.servers import S3RVER_CREDENTIALS

JOB = "0" * 31 + "1"


def write_job_objects(storage):
    storage.put_bytes(keys.source_key("public", JOB), b"%PDF-1.4")
    storage.put_bytes(keys.result_key("public", JOB, "text.txt"), b"text")
    storage.put_json(keys.record_key("public", JOB), {"id": JOB})


@pytest.mark.integration
def test_without_lifecycle_rules_sources_and_results_expire_as_the_rules_say(
    s3rver_server, configure, monkeypatch
):
    # boto3's default session keeps the credentials it first found: s3rver needs its own.
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)
    services = configure(
        S3_ENDPOINT_URL=s3rver_server.url,
        S3_BUCKET=f"expiry-{uuid.uuid4().hex[:8]}",
        SOURCE_RETENTION_DAYS="30",
        RESULT_RETENTION_DAYS="7",
        **S3RVER_CREDENTIALS,
    )
    storage = services.storage
    storage.configure("create the test bucket", "create_bucket")
    write_job_objects(storage)
    assert not storage.capabilities().lifecycle

    now = dt.datetime.now(dt.UTC)
    assert expiry.apply_retention(services, now + dt.timedelta(days=5)).results == 0
    later = expiry.apply_retention(services, now + dt.timedelta(days=9))
    assert (later.sources, later.results) == (0, 1)
    assert list(storage.list_keys(keys.RESULTS_PREFIX)) == []
    last = expiry.apply_retention(services, now + dt.timedelta(days=32))
    assert last.sources == 1
    assert list(storage.list_keys(keys.SOURCES_PREFIX)) == []
    # Records are kept: a purged job still answers, with when it was purged.
    assert list(storage.list_keys(keys.RECORDS_PREFIX)) == [keys.record_key("public", JOB)]


def test_a_store_with_lifecycle_rules_expires_objects_itself(services):
    write_job_objects(services.storage)
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=400)
    assert expiry.apply_retention(services, later).skipped
    assert list(services.storage.list_keys(keys.SOURCES_PREFIX))
