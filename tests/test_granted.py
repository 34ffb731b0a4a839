"""Buckets granted to a tenant in another store (core/adapters/granted.py), here s3rver beside
pdfq's own moto: a granted key is read and extracted, every result of the tenant is also
written under its result prefix, and a key outside the grant is refused with 403 unread."""

import json
import uuid

import pytest

from core.adapters import granted
from tests.support.api import UPLOAD_URL as URL
from tests.support.api import post_pdf
from tests.support.corpus import GOOD
from tests.support.servers import S3RVER_CREDENTIALS

pytestmark = pytest.mark.integration
PDF = (GOOD / "pdfminer_jo.pdf").read_bytes()


@pytest.fixture
def runtime(s3rver_server, configure, app):
    """The test's Services (the app's too) with a grant for `public`: a bucket in s3rver,
    sources under in/, results under out/."""
    grant = {
        "bucket": f"customer-{uuid.uuid4().hex[:12]}",  # s3rver keeps its buckets on disk
        "endpoint_url": s3rver_server.url,
        "access_key_id": S3RVER_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        "secret_access_key": S3RVER_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        "source_prefix": "in/",
        "result_prefix": "out/",
    }
    return configure(TENANT_BUCKETS=json.dumps({"public": grant}))


@pytest.fixture
def theirs(runtime):
    [grant] = runtime.settings.tenant_buckets
    store = granted.store(runtime.settings, grant)
    store.configure("create the customer's bucket", "create_bucket")
    return store


def test_a_granted_key_is_read_extracted_and_its_result_written_back(theirs, client, runtime):
    theirs.put_bytes("in/reports/q3.pdf", PDF, "application/pdf")
    response = client.post(
        URL, json={"source": {"bucket": theirs.bucket, "key": "in/reports/q3.pdf"}}
    )
    assert response.status_code == 202, response.get_json()
    job = client.get(response.get_json()["links"]["self"]).get_json()
    assert job["status"] == "succeeded", job["error"]
    assert job["filename"] == "q3.pdf" and job["size"] == len(PDF)
    assert job["source"] == {"bucket": theirs.bucket, "key": "in/reports/q3.pdf"}
    record = runtime.records.get(job["id"], "public")
    ours = runtime.storage.get_bytes(record.result["key"])
    assert theirs.get_bytes(f"out/{job['id']}.jsonl") == ours


def test_every_result_of_the_tenant_is_written_under_its_result_prefix(theirs, client):
    job_id = post_pdf(client, PDF).get_json()["id"]
    assert theirs.get_bytes(f"out/{job_id}.jsonl").startswith(b"{")


@pytest.mark.parametrize("key", ["secret/q3.pdf", "in/../secret/q3.pdf", "in/", "inbox.pdf"])
def test_a_key_outside_the_granted_prefix_is_403_and_unread(theirs, client, key):
    theirs.put_bytes("secret/q3.pdf", PDF, "application/pdf")
    response = client.post(URL, json={"source": {"bucket": theirs.bucket, "key": key}})
    assert response.status_code == 403, response.get_json()
    assert response.get_json()["error"]["code"] == "forbidden"


def test_a_bucket_not_granted_is_403(theirs, client):
    response = client.post(URL, json={"source": {"bucket": "pdfq-test", "key": "in/a.pdf"}})
    assert response.status_code == 403


def test_no_grant_no_source(client):
    response = client.post(URL, json={"source": {"bucket": "any", "key": "in/a.pdf"}})
    assert response.status_code == 403


def test_a_batch_takes_granted_keys_beside_urls(theirs, client):
    for name in ("a", "b"):
        theirs.put_bytes(f"in/{name}.pdf", PDF, "application/pdf")
    sources = [{"bucket": theirs.bucket, "key": f"in/{name}.pdf"} for name in ("a", "b")]
    made = client.post("/api/v1/pdf/batches", json={"sources": sources}).get_json()
    batch = client.get(made["links"]["self"]).get_json()
    assert batch["status"] == "finished" and batch["counts"]["succeeded"] == 2
    lines = client.get(made["links"]["manifest"]).get_data(as_text=True).splitlines()
    assert [json.loads(line)["source"] for line in lines] == [
        f"s3://{theirs.bucket}/in/a.pdf",
        f"s3://{theirs.bucket}/in/b.pdf",
    ]
    refused = client.post(
        "/api/v1/pdf/batches", json={"sources": [{"bucket": theirs.bucket, "key": "x/a.pdf"}]}
    )
    assert refused.status_code == 403 and "sources[0]" in refused.get_json()["error"]["message"]
