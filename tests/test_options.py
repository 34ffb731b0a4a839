"""Options on creation and reprocess, rich results, progress estimate, retention answers."""

import json

import pytest
from pdfminer.high_level import extract_text

from core import keys, ocr_support
from core.clock import utc_after
from core.jobs import options as job_options
from core.jobs.model import JobStatus
from core.settings import load_settings
from functions.job_views import eta_seconds
from tests.support.api import multipart
from tests.support.corpus import BAD, GOOD
from tests.support.jobs import expire_result

JOBS = "/api/v1/pdf/jobs"
SECRET = "an-options-secret-of-some-length"


def submit(client, path, **fields) -> dict:
    """POST /documents with form fields next to the file; the job as it is now."""
    body, content_type = multipart(path.read_bytes(), path.name)
    boundary = content_type.split("boundary=")[1]
    extra = b"".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields.items()
    )
    response = client.post("/api/v1/pdf/documents", data=extra + body, content_type=content_type)
    assert response.status_code == 202, response.get_json()
    return client.get(f"{JOBS}/{response.get_json()['id']}").get_json()


def pages_of(client, job_id) -> list[dict]:
    response = client.get(f"{JOBS}/{job_id}/result?format=pages")
    assert response.status_code == 200
    assert response.content_type == "application/x-ndjson; charset=utf-8"
    return [json.loads(line) for line in response.get_data(as_text=True).splitlines()]


def test_page_range_and_max_pages_select_pages(client):
    job = submit(client, GOOD / "pdfjs_tracemonkey.pdf", pages="2-4,9")
    assert job["status"] == "succeeded"
    assert [p["page"] for p in pages_of(client, job["id"])] == [2, 3, 4, 9]
    assert job["options"] == {"pages": "2-4,9"}
    job = submit(client, GOOD / "pdfjs_tracemonkey.pdf", max_pages="3")
    assert [p["page"] for p in pages_of(client, job["id"])] == [1, 2, 3]
    assert "truncated" in job["warnings"]
    assert (job["pages_done"], job["pages_total"]) == (3, 3)


def test_layout_off_and_laparams_change_the_text(client):
    path = GOOD / "pdfminer_dmca.pdf"
    plain = submit(client, path, layout="false")
    tuned = submit(client, path, laparams='{"char_margin": 0.5, "boxes_flow": null}')
    default = submit(client, path)
    texts = {
        name: client.get(f"{JOBS}/{job['id']}/result").get_data(as_text=True)
        for name, job in (("plain", plain), ("tuned", tuned), ("default", default))
    }
    assert texts["default"] == extract_text(path)
    assert texts["plain"] != texts["default"]
    assert texts["tuned"] != texts["default"]
    assert tuned["options"]["laparams"] == {"char_margin": 0.5, "boxes_flow": None}


@pytest.mark.env(OPTIONS_SECRET=SECRET)
def test_a_password_opens_an_encrypted_pdf_and_is_never_stored_in_clear(client, services):
    storage = services.storage
    path = BAD / "pdfminer_aes-256-r6.pdf"
    refused = submit(client, path)
    assert refused["status"] == "failed"
    assert refused["error"]["code"] == "encrypted"
    job = submit(client, path, password="usersecret")
    assert job["status"] == "succeeded", job
    assert job["options"] == {"password": True}
    assert client.get(f"{JOBS}/{job['id']}/result").get_data(as_text=True).strip()
    for key in storage.list_keys(""):
        assert b"usersecret" not in storage.get_bytes(key), key
    record, _ = storage.get_json(keys.record_key("public", job["id"]))
    assert record["options"]["password_encrypted"].startswith("gAAAA")  # a Fernet token


NEW_SECRET = "a-new-options-secret-after-rotation"


@pytest.mark.env(OPTIONS_SECRET=SECRET)
def test_options_secret_rotates_with_the_old_value_in_options_secret_old(client, configure):
    job = submit(client, BAD / "pdfminer_aes-256-r6.pdf", password="usersecret")
    assert job["status"] == "succeeded"
    configure(OPTIONS_SECRET=NEW_SECRET)  # rotated, the old value forgotten
    lost = client.post(f"{JOBS}/{job['id']}/reprocess").get_json()
    lost = client.get(f"{JOBS}/{lost['id']}").get_json()
    assert lost["error"]["code"] == "encrypted"
    assert "OPTIONS_SECRET_OLD" in lost["error"]["message"]
    settings = configure(OPTIONS_SECRET=NEW_SECRET, OPTIONS_SECRET_OLD=SECRET).settings
    again = client.post(f"{JOBS}/{job['id']}/reprocess").get_json()
    assert client.get(f"{JOBS}/{again['id']}").get_json()["status"] == "succeeded"
    # New passwords are sealed under the new value alone.
    sealed = job_options.seal({"password": "p"}, settings)
    assert job_options.password(sealed, load_settings({"OPTIONS_SECRET": NEW_SECRET})) == "p"


def test_a_password_without_options_secret_is_refused(client):
    body, content_type = multipart((GOOD / "pdfminer_jo.pdf").read_bytes(), "a.pdf")
    boundary = content_type.split("boundary=")[1]
    field = f'--{boundary}\r\nContent-Disposition: form-data; name="password"\r\n\r\nx\r\n'
    response = client.post(
        "/api/v1/pdf/documents", data=field.encode() + body, content_type=content_type
    )
    assert response.status_code == 400
    assert "OPTIONS_SECRET" in response.get_json()["error"]["message"]


def test_presigned_upload_takes_options_as_json(client):
    response = client.post(
        "/api/v1/pdf/uploads",
        json={
            "filename": "a.pdf",
            "content_type": "application/pdf",
            "pages": "1",
            "layout": False,
        },
    )
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["options"] == {"pages": "1", "layout": False}
    bad = client.post(
        "/api/v1/pdf/uploads",
        json={"filename": "a.pdf", "content_type": "application/pdf", "max_pages": "ten"},
    )
    assert bad.status_code == 400
    assert "'max_pages'" in bad.get_json()["error"]["message"]


def test_reprocess_with_new_options_replaces_them(client):
    job = submit(client, GOOD / "pdfjs_tracemonkey.pdf", pages="1-2")
    response = client.post(f"{JOBS}/{job['id']}/reprocess", json={"pages": "5"})
    assert response.status_code == 202
    assert [p["page"] for p in pages_of(client, job["id"])] == [5]


def test_pages_carry_text_layer_and_garbled_flags_with_warnings(client):
    scan = submit(client, BAD / "pdfminer_encrypted_doc_no_id.pdf", ocr="off")
    assert "no_text_layer" in scan["warnings"]
    assert not any(p["has_text_layer"] or p["ocr"] for p in pages_of(client, scan["id"]))
    arabic = submit(client, GOOD / "pdfjs_ThuluthFeatures.pdf")
    assert "garbled_text" in arabic["warnings"]
    [page] = pages_of(client, arabic["id"])
    assert page["garbled"] is True
    assert page["has_text_layer"] is True
    clean = submit(client, GOOD / "pdfminer_dmca.pdf")
    assert clean["warnings"] == []
    assert not any(p["garbled"] for p in pages_of(client, clean["id"]))
    summary = client.get(f"{JOBS}/{arabic['id']}/result?format=json").get_json()
    assert summary["garbled_pages"] == [1]
    assert {"page", "text", "chars", "has_text_layer", "garbled"} <= set(summary["pages"][0])


def test_document_metadata_in_json_result(client):
    job = submit(client, GOOD / "pdfjs_tracemonkey.pdf")
    summary = client.get(f"{JOBS}/{job['id']}/result?format=json").get_json()
    assert summary["page_count"] == 14
    assert summary["encrypted"] is False
    assert "producer" in summary["metadata"]


def test_result_link_is_a_presigned_download(client):
    job = submit(client, GOOD / "pdfminer_jo.pdf")
    body = client.get(f"{JOBS}/{job['id']}/result/link?format=text").get_json()
    assert "X-Amz-Signature=" in body["url"]
    assert "/text.txt" in body["url"].split("?")[0]
    assert body["bytes"] > 0


def test_eta_is_estimated_from_the_pace_while_processing(client, services):
    job = submit(client, GOOD / "pdfminer_jo.pdf")
    record = services.records.get(job["id"], "public")
    record.status, record.started_at = JobStatus.PROCESSING, utc_after(-10)
    assert 28 <= eta_seconds(record, 2, 8) <= 32
    assert eta_seconds(record, 0, 8) is None
    record.status = JobStatus.SUCCEEDED
    assert eta_seconds(record, 8, 8) is None


@pytest.mark.parametrize("fmt", ["text", "json", "pages"])
@pytest.mark.env(RESULT_RETENTION_DAYS="7")
def test_a_purged_result_is_410_with_when(client, services, fmt):
    job = submit(client, GOOD / "pdfminer_jo.pdf")
    expire_result(services, job["id"])
    response = client.get(f"{JOBS}/{job['id']}/result?format={fmt}")
    assert response.status_code == 410
    error = response.get_json()["error"]
    assert error["code"] == "result_expired"
    assert error["purged_at"].endswith("T00:00:00Z")
    assert error["purged_at"] == client.get(f"{JOBS}/{job['id']}").get_json()["result_expires_at"]


def test_reprocess_of_a_purged_source_is_410_with_when(client, services):
    job = submit(client, GOOD / "pdfminer_jo.pdf")
    services.storage.delete(keys.source_key("public", job["id"]))
    response = client.post(f"{JOBS}/{job['id']}/reprocess", json={})
    assert response.status_code == 410
    error = response.get_json()["error"]
    assert error["code"] == "source_expired"
    assert error["purged_at"] == job["source_expires_at"]


@pytest.mark.parametrize("number", ["1e400", "-Infinity", "NaN", "1" + "0" * 400])
def test_a_laparams_number_json_cannot_carry_is_refused(client, number):
    """Python's JSON parser accepts these; the job view must never hold them (invalid JSON)."""
    body = (
        '{"filename": "a.pdf", "content_type": "application/pdf", "laparams": {"char_margin": %s}}'
    )
    response = client.post(
        "/api/v1/pdf/uploads", data=body % number, content_type="application/json"
    )
    assert response.status_code == 400
    assert "laparams.char_margin" in response.get_json()["error"]["message"]


def test_a_scan_is_ocred_by_default_and_its_pages_say_so(client):
    scan = submit(client, BAD / "pdfminer_encrypted_doc_no_id.pdf")
    assert scan["status"] == "succeeded"
    assert "ocr_pages:3" in scan["warnings"] and "no_text_layer" not in scan["warnings"]
    document = client.get(f"{JOBS}/{scan['id']}/result?format=json").get_json()
    assert document["ocr_pages"] == [1, 2, 3]
    for page in document["pages"]:
        assert page["ocr"] is True and page["has_text_layer"] is False
        assert page["engine"] == "tesseract" and page["ocr_languages"] == "eng"
        assert 0 <= page["confidence"] <= 100
    assert any(p["text"].strip() for p in document["pages"])
    clean = client.get(
        f"{JOBS}/{submit(client, GOOD / 'pdfminer_jo.pdf')['id']}/result?format=json"
    )
    [page] = clean.get_json()["pages"]
    assert page["ocr"] is False and page["engine"] == "pdfminer.six" and "confidence" not in page


def test_engine_ocr_reads_every_page_in_the_languages_asked(client):
    job = submit(client, GOOD / "pdfjs_wikipedia.pdf", engine="ocr", ocr_languages="eng+deu")
    assert job["status"] == "succeeded" and job["warnings"] == ["ocr_pages:1"]
    [page] = pages_of(client, job["id"])
    assert page["ocr"] is True and page["ocr_languages"] == "eng+deu"
    words = set(extract_text(GOOD / "pdfjs_wikipedia.pdf").split())
    assert len(words & set(page["text"].split())) > len(words) * 0.8


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"ocr": "always"}, "Field 'ocr' must be one of auto, off"),
        ({"ocr_languages": "eng;rm -rf"}, "Field 'ocr_languages' must be languages"),
        ({"ocr_languages": "eng+klingon"}, "klingon is not installed; installed: deu, eng"),
    ],
)
def test_ocr_options_are_checked_against_what_is_installed(client, fields, message):
    response = client.post(
        "/api/v1/pdf/uploads",
        json={"filename": "a.pdf", "content_type": "application/pdf", **fields},
    )
    assert response.status_code == 400
    assert message in response.get_json()["error"]["message"]


def test_without_ocr_installed_it_is_refused_and_scans_keep_their_warning(client, monkeypatch):
    monkeypatch.setattr(ocr_support, "languages", lambda configured="": ())
    for fields in ({"ocr": "auto"}, {"ocr_languages": "eng"}):
        response = client.post(
            "/api/v1/pdf/uploads",
            json={"filename": "a.pdf", "content_type": "application/pdf", **fields},
        )
        assert response.status_code == 400
        assert "needs OCR, which is not installed here" in response.get_json()["error"]["message"]
    scan = submit(client, BAD / "pdfminer_encrypted_doc_no_id.pdf")
    assert scan["warnings"] == ["no_text_layer"]


# --- what one job's options may weigh ---

JO = GOOD / "pdfminer_jo.pdf"
LONG = {
    "pages": "1," * 600 + "1",  # 1,201 characters of valid ranges
    "password": "p" * 300,
    "ocr_languages": "eng+" * 60 + "eng",
    "laparams": '{"char_margin": ' + "1" * 1100 + "}",
}


def send_options(client, route, fields):
    """POST the options through one entry point: the /documents form, /uploads JSON or a
    reprocess of an existing job."""
    if route == "documents":
        body, kind = multipart(JO.read_bytes(), "jo.pdf", fields=fields)
        return client.post("/api/v1/pdf/documents", data=body, content_type=kind)
    if route == "uploads":
        body = {"filename": "a.pdf", "content_type": "application/pdf", **fields}
        return client.post("/api/v1/pdf/uploads", json=body)
    job = submit(client, JO)
    return client.post(f"{JOBS}/{job['id']}/reprocess", json=fields)


# JSON takes laparams as an object, bounded by its seven keys; a form, as a string.
EVERY_ENTRY_POINT = [
    (route, field)
    for route in ("documents", "uploads", "reprocess")
    for field in LONG
    if route == "documents" or field != "laparams"
]


@pytest.mark.env(OPTIONS_SECRET=SECRET)
@pytest.mark.parametrize(("route", "field"), EVERY_ENTRY_POINT)
def test_an_option_over_its_length_is_400_naming_it_on_every_entry_point(
    client, services, route, field
):
    before = set(services.storage.list_keys("jobs/"))
    response = send_options(client, route, {field: LONG[field]})
    assert response.status_code == 400, response.get_json()
    assert response.get_json()["error"]["code"] == "bad_request"
    assert f"'{field}'" in response.get_json()["error"]["message"]
    assert "may have" in response.get_json()["error"]["message"]
    if route != "reprocess":
        assert set(services.storage.list_keys("jobs/")) == before


@pytest.mark.parametrize("max_pages", ["9" * 4000, str(10**7)])
def test_max_pages_is_a_bounded_number(client, max_pages):
    body, kind = multipart(JO.read_bytes(), "jo.pdf", fields={"max_pages": max_pages})
    response = client.post("/api/v1/pdf/documents", data=body, content_type=kind)
    assert response.status_code == 400, response.get_json()
    assert "'max_pages'" in response.get_json()["error"]["message"]


@pytest.mark.env(OPTIONS_SECRET=SECRET)
def test_options_a_record_cannot_hold_do_not_make_one(client, services):
    """Fields of 100 KB beside a 390-byte PDF made a 1.6 MB record; now they make none."""
    fields = {name: "1" * 100_000 for name in ("pages", "ocr_languages", "password")}
    body, kind = multipart(JO.read_bytes(), "jo.pdf", fields=fields)
    response = client.post("/api/v1/pdf/documents", data=body, content_type=kind)
    assert response.status_code == 400, response.get_json()
    assert "may have" in response.get_json()["error"]["message"]
    assert list(services.storage.list_keys("jobs/")) == []


def test_a_form_of_many_fields_is_413_before_it_is_held(client):
    fields = {f"f{n}": "x" for n in range(40)}
    body, kind = multipart(JO.read_bytes(), "jo.pdf", fields=fields)
    response = client.post("/api/v1/pdf/documents", data=body, content_type=kind)
    assert response.status_code == 413, response.get_json()
    assert "32 form fields" in response.get_json()["error"]["message"]


@pytest.mark.env(WEBHOOK_SECRET="a-webhook-secret-long-enough", WEBHOOK_ALLOW_PRIVATE="true")
def test_the_options_and_callback_url_together_are_bounded(client, monkeypatch):
    monkeypatch.setattr(job_options, "MAX_OPTIONS_BYTES", 200)
    fields = {"pages": "1-2," * 30 + "3", "callback_url": "http://127.0.0.1/" + "x" * 100}
    response = send_options(client, "uploads", fields)
    assert response.status_code == 400, response.get_json()
    assert "may take 200 at most" in response.get_json()["error"]["message"]
    fields["callback_url"] = "http://127.0.0.1/hook"
    assert send_options(client, "uploads", fields).status_code == 201
