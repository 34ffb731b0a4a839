"""POST /uploads (presign) and POST /uploads/<id>/complete (functions/uploads.py), against
moto's S3 server in this process.

moto, like every local S3 fake, does NOT enforce presigned POST policies: it stores a body
that breaks content-length-range or Content-Type. Only real S3 does. So these tests decode
the policy and assert every condition in it, and completion re-checks size and bytes (as
the worker does again, see consumer/pipeline.py), which the tests below exercise for real.
"""

import base64
import datetime as dt
import hashlib
import hmac
import json
import os
from urllib.parse import parse_qs, urlsplit

import botocore.auth
import botocore.signers
import pytest
import redis
import requests
from pdfminer.high_level import extract_text

from core import keys
from core.adapters import storage as storage_module
from core.errors import NotFound
from core.jobs.model import JobStatus
from tests.support.api import UPLOADS_URL as URL
from tests.support.api import complete, post_to_storage, presign
from tests.support.corpus import BAD, GOOD
from tests.support.jobs import wiped
from tests.support.requests_count import counted

JO = GOOD / "pdfminer_jo.pdf"


def test_presign_creates_a_job_awaiting_its_upload(client, services):
    job = presign(client, size=1234)
    assert job["status"] == "awaiting_upload"
    assert (job["filename"], job["size"]) == ("report.pdf", 1234)
    assert job["links"]["complete"] == f"/api/v1/pdf/uploads/{job['id']}/complete"
    assert set(job["upload"]) == {"expires_at", "max_bytes", "post", "put"}
    record = services.records.get(job["id"], "public")
    assert record.status is JobStatus.AWAITING_UPLOAD
    # nothing is stored until the client uploads
    assert not list(services.storage.list_keys("sources/"))


@pytest.mark.parametrize(("asked", "engine"), [({}, "pdfminer"), ({"engine": "pdfium"}, "pdfium")])
def test_the_job_keeps_the_engine_asked_for(client, services, asked, engine):
    body = {"filename": "a.pdf", "content_type": "application/pdf", **asked}
    response = client.post(URL, json=body)
    assert response.status_code == 201
    assert services.records.get(response.get_json()["id"], "public").engine == engine


def test_the_post_policy_binds_key_size_type_and_expiry(client):
    before = dt.datetime.now(dt.UTC).replace(microsecond=0)
    job = presign(client, filename="r\u00e9sum\u00e9.pdf")
    fields = job["upload"]["post"]["fields"]
    policy = json.loads(base64.b64decode(fields["policy"]))
    conditions = policy["conditions"]
    source = keys.source_key("public", job["id"])

    assert {"bucket": "pdfq-test"} in conditions
    assert {"key": source} in conditions  # exact: the client cannot choose another key
    assert ["content-length-range", 1, 100 * 1024 * 1024] in conditions
    assert {"Content-Type": "application/pdf"} in conditions
    assert {"x-amz-meta-filename": "r?sum?.pdf"} in conditions  # headers are ASCII
    assert {"x-amz-algorithm": "AWS4-HMAC-SHA256"} in conditions
    assert {"x-amz-credential": fields["x-amz-credential"]} in conditions
    assert {"x-amz-date": fields["x-amz-date"]} in conditions
    assert len(conditions) == 8  # and nothing looser, such as a starts-with on the key
    # S3 refuses a form field no condition covers: every field sent is covered exactly.
    for name, value in fields.items():
        if name not in ("policy", "x-amz-signature"):
            assert {name: value} in conditions, name

    expires = dt.datetime.strptime(policy["expiration"], "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=dt.UTC
    )
    assert before + dt.timedelta(seconds=900) <= expires <= before + dt.timedelta(seconds=905)
    assert job["upload"]["expires_at"] == policy["expiration"]
    assert job["upload"]["max_bytes"] == 100 * 1024 * 1024

    # The signature is SigV4 over exactly this policy, with the server's secret (mock_aws
    # puts its own fake credentials in the environment while it runs).
    day = fields["x-amz-date"][:8]
    signing_key = ("AWS4" + os.environ["AWS_SECRET_ACCESS_KEY"]).encode()
    for part in (day, "us-east-1", "s3", "aws4_request"):
        signing_key = hmac.new(signing_key, part.encode(), hashlib.sha256).digest()
    expected = hmac.new(signing_key, fields["policy"].encode(), hashlib.sha256).hexdigest()
    assert fields["x-amz-signature"] == expected


@pytest.mark.env(MAX_UPLOAD_BYTES="5000", PRESIGN_EXPIRY="60")
def test_the_policy_follows_the_limit_and_expiry_settings(client):
    job = presign(client, size=100)
    put = parse_qs(urlsplit(job["upload"]["put"]["url"]).query)
    policy = json.loads(base64.b64decode(job["upload"]["post"]["fields"]["policy"]))
    assert ["content-length-range", 1, 5000] in policy["conditions"]
    assert put["X-Amz-Expires"] == ["60"]


def test_a_put_url_always_signs_its_length_so_without_a_size_there_is_none(client):
    declared = presign(client, size=4321)["upload"]["put"]
    query = parse_qs(urlsplit(declared["url"]).query)
    assert query["X-Amz-SignedHeaders"] == ["content-length;content-type;host"]
    assert query["X-Amz-Expires"] == ["900"]
    assert declared["headers"] == {"Content-Type": "application/pdf", "Content-Length": "4321"}

    undeclared = presign(client)["upload"]
    assert undeclared["put"] is None  # unbound, a PUT could write up to 5 GB
    assert undeclared["post"]["url"]  # the POST's policy bounds the size


@pytest.mark.env(S3_PUBLIC_ENDPOINT_URL="https://files.example.test:9443")
def test_presigned_urls_name_the_public_endpoint(client, services):
    job = presign(client, size=100)
    assert job["upload"]["post"]["url"] == "https://files.example.test:9443/pdfq-test"
    assert job["upload"]["put"]["url"].startswith("https://files.example.test:9443/pdfq-test/")
    # pdfq's own calls still go to its own endpoint (here the test's moto).
    storage = services.storage
    assert "example.test" not in storage.client.meta.endpoint_url
    assert "example.test" not in storage.http.base_url


def test_presigned_urls_and_policies_are_what_botocore_signs(services, monkeypatch):
    """pdfq signs them itself (SigV4, as its requests): the same URL and the same form as
    botocore's signer makes at the same moment, with the same keys."""
    storage = services.storage
    frozen = dt.datetime(2026, 12, 7, 12, 0, 0, tzinfo=dt.UTC)
    monkeypatch.setattr(storage_module, "_now", lambda: frozen)
    for module in (botocore.auth, botocore.signers):
        monkeypatch.setattr(module, "get_current_datetime", lambda: frozen.replace(tzinfo=None))
    ours = storage.presign_put(
        "sources/public/a b+c.pdf", content_type="application/pdf", size=4321, expires=600
    )
    theirs = storage.client.generate_presigned_url(
        "put_object",
        Params={
            "Bucket": storage.bucket,
            "Key": "sources/public/a b+c.pdf",
            "ContentType": "application/pdf",
            "ContentLength": 4321,
        },
        ExpiresIn=600,
    )
    assert parse_qs(urlsplit(ours).query) == parse_qs(urlsplit(theirs).query)
    assert urlsplit(ours).path == urlsplit(theirs).path
    got = storage.presign_get("results/public/x.jsonl", expires=60)
    want = storage.client.generate_presigned_url(
        "get_object",
        Params={"Bucket": storage.bucket, "Key": "results/public/x.jsonl"},
        ExpiresIn=60,
    )
    assert parse_qs(urlsplit(got).query) == parse_qs(urlsplit(want).query)
    conditions = [{"Content-Type": "application/pdf"}, ["content-length-range", 1, 9]]
    fields = {"Content-Type": "application/pdf"}
    post = storage.presign_post(
        "sources/public/k.pdf", fields=fields, conditions=conditions, expires=600
    )
    boto = storage.client.generate_presigned_post(
        storage.bucket,
        "sources/public/k.pdf",
        Fields=fields,
        Conditions=conditions,
        ExpiresIn=600,
    )
    assert post["url"] == boto["url"]
    policy = json.loads(base64.b64decode(post["fields"]["policy"]))
    expected = json.loads(base64.b64decode(boto["fields"]["policy"]))
    assert policy["expiration"] == expected["expiration"]
    assert sorted(map(json.dumps, policy["conditions"])) == sorted(
        map(json.dumps, expected["conditions"])
    )
    for name in ("key", "x-amz-algorithm", "x-amz-credential", "x-amz-date", "Content-Type"):
        assert post["fields"][name] == boto["fields"][name]


@pytest.mark.parametrize(
    ("body", "status", "code", "names"),
    [
        ({"filename": "a.pdf"}, 400, "bad_request", "'content_type'"),
        ({"content_type": "application/pdf"}, 400, "bad_request", "'filename'"),
        ({"filename": 7, "content_type": "application/pdf"}, 400, "bad_request", "'filename'"),
        ({"filename": "a.pdf", "content_type": "text/plain"}, 415, "unsupported_media_type", ""),
        ({"filename": "a", "content_type": "application/pdf", "size": "9"}, 400, "", "'size'"),
        ({"filename": "a", "content_type": "application/pdf", "size": True}, 400, "", "'size'"),
        ({"filename": "a", "content_type": "application/pdf", "size": -1}, 400, "", "'size'"),
        ({"filename": "a", "content_type": "application/pdf", "size": 0}, 400, "empty_file", ""),
        (
            {"filename": "a", "content_type": "application/pdf", "size": 10**12},
            413,
            "too_large",
            "",
        ),
        ({"filename": "a", "content_type": "application/pdf", "sise": 5}, 400, "", "'sise'"),
        ({"filename": "a", "content_type": "application/pdf", "engine": "x"}, 400, "", "engine"),
        ([1, 2], 400, "bad_request", "JSON object"),
    ],
)
def test_a_bad_request_body_is_refused_naming_the_field(
    client, services, body, status, code, names
):
    response = client.post(URL, json=body)
    assert response.status_code == status
    error = response.get_json()["error"]
    assert error["code"] == (code or error["code"])
    assert names in error["message"]
    assert not list(services.storage.list_keys(""))  # no job was created


def test_a_body_that_is_not_json_is_400(client):
    response = client.post(URL, data=b"filename=a.pdf", content_type="text/plain")
    assert response.status_code == 400
    assert "JSON" in response.get_json()["error"]["message"]


def test_a_presigned_post_upload_is_completed_and_extracted(client, services, enqueued):
    job = presign(client, filename="jo.pdf")
    assert post_to_storage(job, JO.read_bytes()).status_code == 204
    response = complete(client, job)
    assert response.status_code == 202
    assert response.get_json()["status"] == "queued"
    assert response.headers["Location"] == f"/api/v1/pdf/jobs/{job['id']}"
    assert enqueued == [keys.source_key("public", job["id"])]
    done = client.get(f"/api/v1/pdf/jobs/{job['id']}").get_json()
    assert done["status"] == "succeeded"
    assert done["size"] == JO.stat().st_size  # the real size, from storage
    text = client.get(f"/api/v1/pdf/jobs/{job['id']}/result").get_data(as_text=True)
    assert text == extract_text(JO)
    head = services.storage.head(keys.source_key("public", job["id"]))
    assert head["Metadata"] == {"filename": "jo.pdf"}


def test_a_presigned_put_upload_is_completed(client, services, enqueued):
    data = JO.read_bytes()
    job = presign(client, size=len(data))
    put = job["upload"]["put"]
    assert (
        requests.put(put["url"], data=data, headers=put["headers"], timeout=30).status_code == 200
    )
    assert complete(client, job).status_code == 202
    assert services.records.get(job["id"], "public").status is JobStatus.SUCCEEDED


def test_completing_twice_queues_once(client, enqueued):
    job = presign(client)
    post_to_storage(job, JO.read_bytes())
    assert complete(client, job).status_code == 202
    again = complete(client, job)
    assert again.status_code == 200
    assert again.get_json()["status"] == "succeeded"
    assert len(enqueued) == 1


def test_a_stale_copy_loses_the_race_and_queues_nothing(client, services, enqueued):
    # Two callers (the client and the S3 event, say) read the job while it awaited its upload.
    job = presign(client)
    post_to_storage(job, JO.read_bytes())
    first = services.records.get(job["id"], "public")
    second = services.records.get(job["id"], "public")
    assert services.lifecycle.complete_upload(first, "web:test")[1] is True
    # The second one's conditional write fails on the changed record: it queues nothing.
    assert services.lifecycle.complete_upload(second, "web:test")[1] is False
    assert len(enqueued) == 1


def test_complete_before_the_upload_is_409(client, services, enqueued):
    job = presign(client)
    response = complete(client, job)
    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "not_uploaded"
    assert services.records.get(job["id"], "public").status is JobStatus.AWAITING_UPLOAD
    assert enqueued == []


def test_a_non_pdf_is_422_deleted_and_the_job_fails_with_its_code(client, services, enqueued):
    job = presign(client)
    post_to_storage(job, (BAD / "png_renamed.pdf").read_bytes())
    response = complete(client, job)
    assert response.status_code == 422
    assert response.get_json()["error"]["code"] == "not_a_pdf"
    assert not list(services.storage.list_keys("sources/"))
    record = services.records.get(job["id"], "public")
    assert (record.status, record.error["code"]) == (JobStatus.FAILED, "not_a_pdf")
    # Asking again gives the same answer; nothing was ever queued.
    assert complete(client, job).get_json()["error"]["code"] == "not_a_pdf"
    assert enqueued == []


@pytest.mark.env(MAX_UPLOAD_BYTES="1000")
def test_an_object_over_the_limit_is_422_too_large(client, services, enqueued):
    job = presign(client)
    # The policy says at most 1000 bytes; moto stores 2000 anyway (real S3 would refuse).
    assert post_to_storage(job, b"%PDF-1.4\n" + b"x" * 2000).status_code == 204
    response = complete(client, job)
    assert response.status_code == 422
    assert response.get_json()["error"]["code"] == "too_large"
    assert not list(services.storage.list_keys("sources/"))
    assert services.records.get(job["id"], "public").error["code"] == "too_large"


def test_an_empty_object_is_422_empty_file(client, enqueued):
    job = presign(client)
    post_to_storage(job, b"")
    response = complete(client, job)
    assert (response.status_code, response.get_json()["error"]["code"]) == (422, "empty_file")


def test_a_queue_outage_hands_the_job_back_so_completing_again_works(client, services, monkeypatch):
    job = presign(client)
    post_to_storage(job, JO.read_bytes())
    original = services.huey.enqueue

    def down(*args, **kwargs):
        raise redis.ConnectionError("refused")

    monkeypatch.setattr(services.huey, "enqueue", down)
    response = complete(client, job)
    assert response.status_code == 503
    assert response.get_json()["error"]["code"] == "queue_unavailable"
    assert services.records.get(job["id"], "public").status is JobStatus.AWAITING_UPLOAD

    monkeypatch.setattr(services.huey, "enqueue", original)
    assert complete(client, job).status_code == 202
    assert services.records.get(job["id"], "public").status is JobStatus.SUCCEEDED


def test_completing_an_unknown_job_is_404(client):
    response = client.post(f"/api/v1/pdf/uploads/{'0' * 32}/complete")
    assert response.status_code == 404


def test_the_upload_page_is_served_at_the_root(client):
    with client.get("/") as page:
        assert page.status_code == 200
        assert page.headers["Cache-Control"] == "no-cache"
        assert '<script src="/static/upload.js"' in page.get_data(as_text=True)
    with client.get("/static/upload.js") as script:
        assert script.status_code == 200
        assert "/uploads" in script.get_data(as_text=True)


CARRIED = {"OPTIONS_SECRET": "an-options-secret-long-enough"}


@pytest.mark.env(**CARRIED)
def test_signing_an_upload_makes_no_storage_request_its_object_carries_the_job(
    client, services, monkeypatch
):
    with counted(services, monkeypatch) as calls:
        job = presign(client, size=3373)
    assert not [name for name in calls if not name.startswith("state.")], calls
    assert client.get(f"/api/v1/pdf/jobs/{job['id']}").get_json()["status"] == "awaiting_upload"
    listed = client.get("/api/v1/pdf/jobs").get_json()["jobs"]
    assert [j["id"] for j in listed] == [job["id"]]  # listed, though no record is written yet
    fields = job["upload"]["post"]["fields"]
    assert {"x-amz-meta-pdfq-job", "x-amz-meta-pdfq-sig"} <= set(fields)
    assert "x-amz-meta-pdfq-job" in job["upload"]["put"]["headers"]
    assert post_to_storage(job, JO.read_bytes()).status_code == 204
    assert complete(client, job).status_code == 202
    stored = services.records.stored(job["id"], "public")  # written when the upload completed
    assert stored.status in (JobStatus.QUEUED, JobStatus.SUCCEEDED)
    assert services.records.get(job["id"], "public").status is JobStatus.SUCCEEDED


@pytest.mark.env(**CARRIED)
def test_a_put_sends_the_carried_job_as_signed_headers(client, services):
    job = presign(client, size=len(JO.read_bytes()))
    put = job["upload"]["put"]
    answer = requests.put(put["url"], data=JO.read_bytes(), headers=put["headers"], timeout=30)
    assert answer.status_code == 200, answer.text
    head = services.storage.head(keys.source_key("public", job["id"]))
    assert head["Metadata"]["pdfq-job"] == put["headers"]["x-amz-meta-pdfq-job"]


@pytest.mark.env(**CARRIED)
def test_a_job_lost_with_the_state_store_before_its_upload_completes_comes_from_its_object(
    client, services
):
    job = presign(client, filename="kept.pdf", ocr="off")
    assert post_to_storage(job, JO.read_bytes()).status_code == 204
    wiped(services)  # Redis flushed between the upload and its completion
    response = complete(client, job)
    assert response.status_code == 202, response.get_json()
    done = services.records.get(job["id"], "public")
    assert done.status is JobStatus.SUCCEEDED
    assert (done.filename, done.options) == ("kept.pdf", {"ocr": "off"})


@pytest.mark.env(**CARRIED)
def test_an_object_carrying_a_job_pdfq_did_not_sign_for_its_key_makes_no_job(client, services):
    job = presign(client)
    fields = dict(job["upload"]["post"]["fields"])
    other = keys.new_job_id()
    fields["key"] = keys.source_key("public", other)  # moto does not enforce the policy
    post = {**job["upload"]["post"], "fields": fields}
    assert post_to_storage({"upload": {"post": post}}, JO.read_bytes()).status_code == 204
    wiped(services)
    response = client.post(f"/api/v1/pdf/uploads/{other}/complete")
    assert response.status_code == 404
    with pytest.raises(NotFound):
        services.records.stored(other, "public")
