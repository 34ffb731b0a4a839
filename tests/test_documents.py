"""POST /documents (functions/documents.py): a PDF sent through the web app is checked, stored
and queued; a refused or failed upload leaves nothing behind; Idempotency-Key replays."""

import hashlib
import io

import pytest
import redis

from core import keys
from core.errors import StorageUnavailable
from functions.documents import clean_filename
from tests.support.api import UPLOAD_URL as URL
from tests.support.api import multipart
from tests.support.api import post_pdf as post
from tests.support.corpus import BAD, GOOD


def stored_keys(services):
    return sorted(services.storage.list_keys(""))


def test_a_pdf_is_accepted_stored_and_processed(client, services):
    data = (GOOD / "pdfminer_jo.pdf").read_bytes()
    response = post(client, data, "jo.pdf")
    assert response.status_code == 202
    body = response.get_json()
    assert response.headers["Location"] == f"/api/v1/pdf/jobs/{body['id']}"
    assert body["links"]["self"] == response.headers["Location"]
    assert services.storage.get_bytes(keys.source_key("public", body["id"])) == data
    # Immediate mode ran the task already: the record says succeeded.
    job = services.records.get(body["id"], "public")
    assert job.status.value == "succeeded"
    assert job.filename == "jo.pdf"
    assert job.size == len(data)


def test_empty_upload_is_400_and_leaves_nothing(client, services):
    response = post(client, b"")
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "empty_file"
    assert stored_keys(services) == []


@pytest.mark.parametrize("name", ["png_renamed.pdf", "text_renamed.pdf"])
def test_non_pdf_bytes_are_415_whatever_the_filename(client, services, name):
    response = post(client, (BAD / name).read_bytes(), "looks-fine.pdf")
    assert response.status_code == 415
    assert response.get_json()["error"]["code"] == "not_a_pdf"
    assert stored_keys(services) == []


@pytest.mark.env(MAX_UPLOAD_BYTES="1000")
def test_oversized_upload_is_413_and_leaves_nothing(client, services):
    response = post(client, b"%PDF-1.4\n" + b"x" * 2000)
    assert response.status_code == 413
    assert response.get_json()["error"]["code"] == "too_large"
    assert stored_keys(services) == []


@pytest.mark.env(MAX_UPLOAD_BYTES="1000")
def test_body_far_over_the_limit_is_refused_before_it_is_read(client):
    # The app's MAX_CONTENT_LENGTH follows MAX_UPLOAD_BYTES (plus the form's framing).
    response = post(client, b"%PDF-1.4\n" + b"x" * 200_000)
    assert response.status_code == 413
    assert response.get_json()["error"]["code"] == "too_large"


def test_missing_file_field_is_400(client):
    response = client.post(URL, data={"other": "x"}, content_type="multipart/form-data")
    assert response.status_code == 400
    assert "field named 'file'" in response.get_json()["error"]["message"]


def test_storage_down_is_503_with_retry_after(client, services, monkeypatch):
    def down(*args, **kwargs):
        raise StorageUnavailable()

    monkeypatch.setattr(services.storage, "upload_file", down)
    response = post(client, (GOOD / "pdfminer_jo.pdf").read_bytes())
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "30"
    assert response.get_json()["error"]["code"] == "storage_unavailable"


def test_queue_down_is_503_and_removes_the_stored_upload(client, services, monkeypatch):
    def down(*args, **kwargs):
        raise redis.ConnectionError("refused")

    monkeypatch.setattr(services.huey, "enqueue", down)
    response = post(client, (GOOD / "pdfminer_jo.pdf").read_bytes())
    assert response.status_code == 503
    assert response.get_json()["error"]["code"] == "queue_unavailable"
    assert stored_keys(services) == []
    assert services.records.counts()["queued"] == 0


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\docs\\a.pdf", "a.pdf"),
        ("", "upload.pdf"),
        ("r\u00e9sum\u00e9\x00.pdf", "r\u00e9sum\u00e9.pdf"),
        ("x" * 500 + ".pdf", "x" * 196 + ".pdf"),
    ],
)
def test_filenames_are_display_names_only(given, kept):
    assert clean_filename(given) == kept


def test_same_idempotency_key_and_file_returns_the_original_job(client, services):
    data = (GOOD / "pdfminer_jo.pdf").read_bytes()
    body, content_type = multipart(data, "jo.pdf")
    headers = {"Idempotency-Key": "order-42"}
    first = client.post(URL, data=body, content_type=content_type, headers=headers)
    again = client.post(URL, data=body, content_type=content_type, headers=headers)
    assert first.status_code == again.status_code == 202
    assert again.get_json()["id"] == first.get_json()["id"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert services.records.counts()["succeeded"] == 1


def test_same_idempotency_key_with_another_file_is_409(client):
    headers = {"Idempotency-Key": "order-43"}
    for name, expected in (("pdfminer_jo.pdf", 202), ("pdfminer_pagelabels.pdf", 409)):
        body, content_type = multipart((GOOD / name).read_bytes(), name)
        response = client.post(URL, data=body, content_type=content_type, headers=headers)
        assert response.status_code == expected
    assert response.get_json()["error"]["code"] == "idempotency_key_reused"


def test_a_failed_request_frees_its_idempotency_key(client, services, monkeypatch):
    storage = services.storage
    real = storage.upload_file
    monkeypatch.setattr(
        storage, "upload_file", lambda *a, **k: (_ for _ in ()).throw(StorageUnavailable())
    )
    body, content_type = multipart((GOOD / "pdfminer_jo.pdf").read_bytes(), "jo.pdf")
    headers = {"Idempotency-Key": "order-44"}
    assert (
        client.post(URL, data=body, content_type=content_type, headers=headers).status_code == 503
    )
    monkeypatch.setattr(storage, "upload_file", real)
    assert (
        client.post(URL, data=body, content_type=content_type, headers=headers).status_code == 202
    )


def test_a_malformed_idempotency_key_is_400(client):
    body, content_type = multipart((GOOD / "pdfminer_jo.pdf").read_bytes(), "jo.pdf")
    response = client.post(
        URL, data=body, content_type=content_type, headers={"Idempotency-Key": "x" * 300}
    )
    assert response.status_code == 400


def test_the_upload_records_its_sha256(client, services):
    data = (GOOD / "pdfminer_jo.pdf").read_bytes()
    job_id = post(client, data).get_json()["id"]
    assert services.records.get(job_id, "public").sha256 == hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize(
    ("fields", "named"), [({"ocr_langs": "eng"}, "'ocr_langs'"), ({"pasword": "x"}, "'pasword'")]
)
def test_an_unknown_form_field_is_400_naming_it_and_leaves_nothing(client, services, fields, named):
    body, kind = multipart((GOOD / "pdfminer_jo.pdf").read_bytes(), "jo.pdf", fields=fields)
    response = client.post(URL, data=body, content_type=kind)
    assert response.status_code == 400, response.get_json()
    assert named in response.get_json()["error"]["message"]
    assert stored_keys(services) == []


def test_two_files_in_one_request_are_400(client, services):
    data = (GOOD / "pdfminer_jo.pdf").read_bytes()
    response = client.post(
        URL,
        data={"file": [(io.BytesIO(data), "a.pdf"), (io.BytesIO(data), "b.pdf")]},
        content_type="multipart/form-data",
    )
    assert response.status_code == 400
    assert "one PDF" in response.get_json()["error"]["message"]
    assert stored_keys(services) == []
