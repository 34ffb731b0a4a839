"""Buckets granted to a tenant in another store (core/adapters/granted.py), here s3rver beside
pdfq's own moto: a granted key is read and extracted, every result of the tenant is also
written under its result prefix, and a key outside the grant is refused with 403 unread."""

import json
import uuid

import pytest

from core.adapters import granted
from core.jobs import batch_making
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


def put_reports(theirs):
    """in/reports/ holds three PDFs, a text file and a folder marker; other keys beside it."""
    for key in ("in/reports/a.pdf", "in/reports/b.pdf", "in/reports/c.pdf", "in/other/x.pdf"):
        theirs.put_bytes(key, PDF, "application/pdf")
    theirs.put_bytes("in/reports/d.txt", b"not a PDF at all", "text/plain")
    theirs.put_bytes("in/reports/sub/", b"", "application/x-directory")


def manifest(client, made) -> list[dict]:
    lines = client.get(made["links"]["manifest"]).get_data(as_text=True).splitlines()
    return [json.loads(line) for line in lines]


@pytest.mark.env(BATCH_LIST_PAGE_SIZE="2")
def test_a_batch_lists_a_granted_prefix_page_by_page(theirs, client, monkeypatch):
    put_reports(theirs)
    requests = []
    real = theirs._list
    monkeypatch.setattr(theirs, "_list", lambda *a, **k: requests.append(k) or real(*a, **k))
    source = {"bucket": theirs.bucket, "prefix": "in/reports/"}
    made = client.post("/api/v1/pdf/batches", json={"sources": [source]}).get_json()
    batch = client.get(made["links"]["self"]).get_json()
    assert batch["status"] == "finished" and batch["total"] == 4
    assert batch["listing"] == {"done": True, "listed": 4, "truncated": False, "next": []}
    assert len(requests) == 3 and requests[1]["token"]  # 5 keys, 2 a page, continued
    lines = manifest(client, made)
    assert [line["source"] for line in lines] == [
        f"s3://{theirs.bucket}/in/reports/{name}" for name in ("a.pdf", "b.pdf", "c.pdf", "d.txt")
    ]
    assert [line["status"] for line in lines] == ["succeeded"] * 3 + ["failed"]
    assert lines[3]["error_code"] == "not_a_pdf" and lines[3]["filename"] == "d.txt"


def test_a_listing_past_the_batch_limit_stops_there_and_says_where_to_go_on(
    theirs, client, monkeypatch
):
    put_reports(theirs)
    monkeypatch.setattr(batch_making, "MAX_SOURCES", 3)
    sources = [{"bucket": theirs.bucket, "key": "in/reports/c.pdf"}]
    sources += [{"bucket": theirs.bucket, "prefix": p} for p in ("in/", "in/reports/c")]
    made = client.post("/api/v1/pdf/batches", json={"sources": sources}).get_json()
    batch = client.get(made["links"]["self"]).get_json()
    assert batch["total"] == 3 and batch["listing"]["truncated"]
    assert batch["listing"]["next"] == [
        {"bucket": theirs.bucket, "prefix": "in/", "start_after": "in/reports/a.pdf"},
        {"bucket": theirs.bucket, "prefix": "in/reports/c"},
    ]
    assert [line["source"].rsplit("/", 1)[1] for line in manifest(client, made)] == [
        "c.pdf",
        "x.pdf",
        "a.pdf",
    ]
    rest = client.post("/api/v1/pdf/batches", json={"sources": batch["listing"]["next"]})
    listed = manifest(client, rest.get_json())
    names = [line["source"].split("/in/", 1)[1] for line in listed]
    assert names == ["reports/b.pdf", "reports/c.pdf", "reports/d.txt"]  # full again
    after = client.get(rest.get_json()["links"]["self"]).get_json()["listing"]
    assert after["next"] == [{"bucket": theirs.bucket, "prefix": "in/reports/c"}]


def test_the_web_records_a_prefix_and_lists_nothing(theirs, client, runtime, monkeypatch):
    monkeypatch.setattr(runtime.queue, "put_first", lambda *args: None)
    monkeypatch.setattr(granted, "store", lambda *args: pytest.fail("the web listed a bucket"))
    source = {"bucket": theirs.bucket, "prefix": "in/"}
    made = client.post("/api/v1/pdf/batches", json={"sources": [source]})
    assert made.status_code == 202, made.get_json()
    assert made.get_json()["listing"] == {"done": False} and made.get_json()["total"] == 0


@pytest.mark.parametrize(
    ("source", "status"),
    [
        ({"prefix": "secret/"}, 403),
        ({"prefix": "in/../secret/"}, 403),
        ({"prefix": ""}, 403),
        ({"prefix": "in/", "filename": "x.pdf"}, 400),
        ({"prefix": 3}, 400),
    ],
)
def test_a_prefix_outside_the_grant_is_refused_at_submit(theirs, client, source, status):
    sources = [{"bucket": theirs.bucket, **source}]
    refused = client.post("/api/v1/pdf/batches", json={"sources": sources})
    assert refused.status_code == status, refused.get_json()
    assert "sources[0]" in refused.get_json()["error"]["message"]
