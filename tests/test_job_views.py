"""The read side (functions/job_views.py): a job's status and progress, its result once it has
succeeded, and JSON errors for what cannot be shown."""

import json

from pdfminer.high_level import extract_text

from core.jobs.model import JobStatus
from tests.support.api import upload
from tests.support.corpus import BAD, GOOD
from tests.support.jobs import expire_result, recorded_job


def test_status_shows_progress_timestamps_and_no_error(client):
    job = upload(client, GOOD / "pdfminer_dmca.pdf")
    body = client.get(f"/api/v1/pdf/jobs/{job['id']}").get_json()
    assert body["status"] == "succeeded"
    assert (body["pages_done"], body["pages_total"]) == (18, 18)
    assert body["created_at"] <= body["started_at"] <= body["finished_at"]
    assert body["error"] is None
    assert body["attempts"] == 1


def test_result_as_text_equals_extract_text(client):
    path = GOOD / "pdfminer_dmca.pdf"
    job = upload(client, path)
    response = client.get(f"/api/v1/pdf/jobs/{job['id']}/result")
    assert response.status_code == 200
    assert response.content_type == "text/plain; charset=utf-8"
    assert response.get_data(as_text=True) == extract_text(path)


def test_result_as_json_has_pages_and_metadata(client):
    job = upload(client, GOOD / "pdfjs_tracemonkey.pdf")
    body = client.get(f"/api/v1/pdf/jobs/{job['id']}/result?format=json").get_json()
    assert body["page_count"] == 14
    assert [page["page"] for page in body["pages"]] == list(range(1, 15))
    assert body["chars"] == sum(page["chars"] + 1 for page in body["pages"])  # + form feeds
    assert body["metadata"]
    assert body["engine"] == "pdfminer.six"


def test_unknown_job_is_404_json(client):
    for url in ["/api/v1/pdf/jobs/" + "0" * 32, "/api/v1/pdf/jobs/nope/result"]:
        response = client.get(url)
        assert response.status_code == 404
        assert response.get_json()["error"]["code"] == "not_found"


def test_result_of_a_queued_job_is_409_not_ready(client, services):
    job = recorded_job(services)
    response = client.get(f"/api/v1/pdf/jobs/{job.id}/result")
    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "result_not_ready"


def test_failed_job_reports_its_code_and_has_no_result(client):
    job = upload(client, BAD / "pdfminer_aes-256-r6.pdf")
    body = client.get(f"/api/v1/pdf/jobs/{job['id']}").get_json()
    assert body["status"] == JobStatus.FAILED
    assert body["error"]["code"] == "encrypted"
    response = client.get(f"/api/v1/pdf/jobs/{job['id']}/result")
    assert response.status_code == 409
    assert "encrypted" in response.get_json()["error"]["message"]


def test_unknown_result_format_is_400(client):
    job = upload(client, GOOD / "pdfminer_jo.pdf")
    response = client.get(f"/api/v1/pdf/jobs/{job['id']}/result?format=xml")
    assert response.status_code == 400


def test_unexpected_errors_are_500_json_without_a_traceback(client, services, monkeypatch):
    def boom(*args, **kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(services.records, "get", boom)
    response = client.get("/api/v1/pdf/jobs/" + "0" * 32)
    assert response.status_code == 500
    assert response.get_json() == {
        "error": {"code": "internal_error", "message": "Something went wrong inside pdfq."}
    }


def test_an_expired_result_is_410_not_a_crash(client, services):
    # RESULT_RETENTION_DAYS expires results/ by a lifecycle rule; the record stays.
    job = upload(client, GOOD / "pdfminer_jo.pdf")
    expire_result(services, job["id"])
    for fmt in ("text", "json"):
        response = client.get(f"/api/v1/pdf/jobs/{job['id']}/result?format={fmt}")
        assert response.status_code == 410
        assert response.get_json()["error"]["code"] == "result_expired"


def test_result_as_json_is_streamed_page_by_page_and_parses_whole(client, services, monkeypatch):
    path = GOOD / "pdfjs_tracemonkey.pdf"
    job = upload(client, path)
    read_whole = services.storage.get_bytes

    def whole(key):
        assert not key.endswith("pages.jsonl"), "the pages were read whole"
        return read_whole(key)

    monkeypatch.setattr(services.storage, "get_bytes", whole)
    response = client.get(f"/api/v1/pdf/jobs/{job['id']}/result?format=json")
    assert response.status_code == 200
    assert response.content_type == "application/json"
    body = json.loads(response.get_data())
    assert [page["page"] for page in body["pages"]] == list(range(1, 15))
    assert "".join(page["text"] + "\f" for page in body["pages"]) == extract_text(path)
    assert body["job_id"] == job["id"] and body["warnings"] == []


def test_result_as_pages_has_one_line_a_page(client):
    job = upload(client, GOOD / "pdfjs_tracemonkey.pdf")
    response = client.get(f"/api/v1/pdf/jobs/{job['id']}/result?format=pages")
    assert len(response.get_data().splitlines()) == 14
