"""Limits in-process: jobs in flight per tenant (429), bounded JSON bodies, fields named in 400s.

The queue-depth 503 needs a real queue that fills up: tests/test_limits_e2e.py.
"""

import json
import time

import pytest

from functions import limits
from tests.support.api import ACME, GLOBEX, TWO_TENANTS, bearer, multipart, post_pdf
from tests.support.corpus import GOOD

API = "/api/v1/pdf"
JO = GOOD / "pdfminer_jo.pdf"
# Two tenants, each with two jobs in flight at most.
two_in_flight = pytest.mark.env(API_TOKENS=TWO_TENANTS, TENANT_MAX_JOBS_IN_FLIGHT="2")


def presign(client, token=ACME):
    body = {"filename": "a.pdf", "content_type": "application/pdf"}
    return client.post(f"{API}/uploads", json=body, headers=bearer(token))


def fill(client) -> list[str]:
    """acme's two slots, taken by uploads that have not arrived yet."""
    ids = [presign(client).get_json()["id"] for _ in range(2)]
    assert client.get(f"{API}/me", headers=bearer(ACME)).get_json()["jobs_in_flight"] == 2
    return ids


def assert_too_many(response):
    assert response.status_code == 429, response.get_json()
    assert response.get_json()["error"]["code"] == "too_many_jobs"
    assert "TENANT_MAX_JOBS_IN_FLIGHT" in response.get_json()["error"]["message"]
    assert response.headers["Retry-After"] == "10"


@two_in_flight
def test_new_jobs_over_the_tenants_limit_are_429_with_retry_after(client):
    fill(client)
    assert_too_many(presign(client))
    assert_too_many(post_pdf(client, JO.read_bytes(), headers=bearer(ACME)))


@two_in_flight
def test_one_tenant_at_its_limit_does_not_hold_back_another(client):
    fill(client)
    assert presign(client, GLOBEX).status_code == 201


@two_in_flight
def test_a_finished_or_canceled_job_frees_its_slot(client):
    first, _ = fill(client)
    assert client.post(f"{API}/jobs/{first}/cancel", headers=bearer(ACME)).status_code == 200
    assert presign(client).status_code == 201


@two_in_flight
def test_a_retried_request_with_its_idempotency_key_is_not_refused(client):
    key = {**bearer(ACME), "Idempotency-Key": "k-1"}
    first = post_pdf(client, JO.read_bytes(), headers=key)
    assert first.status_code == 202
    fill(client)
    again = post_pdf(client, JO.read_bytes(), headers=key)
    assert again.status_code == 202
    assert again.get_json()["id"] == first.get_json()["id"]
    assert again.headers["Idempotent-Replayed"] == "true"


@two_in_flight
def test_rerunning_a_finished_job_counts_but_rescheduling_a_waiting_one_does_not(client):
    done = post_pdf(client, JO.read_bytes(), headers=bearer(ACME)).get_json()["id"]
    later = {"delay": 3600}
    scheduled = client.post(f"{API}/jobs/{done}/reprocess", json=later, headers=bearer(ACME))
    assert scheduled.status_code == 202  # one slot of two
    presign(client)  # the second
    # The scheduled job may move to another time: it holds its slot already.
    moved = client.post(f"{API}/jobs/{done}/reprocess", json={"delay": 60}, headers=bearer(ACME))
    assert moved.status_code == 202
    finished = post_pdf(client, JO.read_bytes(), headers=bearer(GLOBEX)).get_json()["id"]
    assert client.get(f"{API}/jobs/{finished}", headers=bearer(GLOBEX)).get_json()["status"] == (
        "succeeded"
    )
    other = post_pdf(client, JO.read_bytes(), headers=bearer(ACME))
    assert_too_many(other)


@pytest.mark.env(API_TOKENS=TWO_TENANTS, TENANT_MAX_JOBS_IN_FLIGHT="0")
def test_a_rerun_over_the_limit_leaves_the_job_as_it_was(client, configure):
    done = post_pdf(client, JO.read_bytes(), headers=bearer(ACME)).get_json()["id"]
    configure(TENANT_MAX_JOBS_IN_FLIGHT="2")
    fill(client)
    before = client.get(f"{API}/jobs/{done}", headers=bearer(ACME)).get_json()
    assert_too_many(client.post(f"{API}/jobs/{done}/reprocess", headers=bearer(ACME)))
    assert client.get(f"{API}/jobs/{done}", headers=bearer(ACME)).get_json() == before


@pytest.mark.env(TENANT_MAX_JOBS_IN_FLIGHT="0")
def test_no_limit_when_the_setting_is_zero(client):
    assert all(presign(client).status_code == 201 for _ in range(5))


# --- request bodies ---


@pytest.mark.env(MAX_JSON_BYTES="1024")
def test_a_json_body_over_max_json_bytes_is_413_before_it_is_read(client):
    body = {"filename": "a" * 2000, "content_type": "application/pdf"}
    response = client.post(f"{API}/uploads", json=body)
    assert response.status_code == 413
    assert response.get_json()["error"]["code"] == "too_large"
    assert "1024 bytes (MAX_JSON_BYTES)" in response.get_json()["error"]["message"]


@pytest.mark.env(MAX_JSON_BYTES="1024")
def test_pdf_uploads_are_bounded_by_max_upload_bytes_not_max_json_bytes(client):
    assert post_pdf(client, JO.read_bytes()).status_code == 202  # 3 KB, over 1 KiB


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/uploads", {"content_type": "application/pdf"}, "'filename'"),
        ("/uploads", {"filename": 7, "content_type": "application/pdf"}, "'filename'"),
        (
            "/uploads",
            {"filename": "a.pdf", "content_type": "application/pdf", "size": -1},
            "'size'",
        ),
        ("/uploads", {"filename": "a.pdf", "content_type": "application/pdf", "x": 1}, "'x'"),
        ("/uploads", ["not", "an", "object"], "JSON object"),
        ("/uploads", {"filename": "a", "content_type": "application/pdf", "pages": "z"}, "pages"),
        ("/jobs/{id}/reprocess", {"delay": "soon"}, "'delay'"),
        ("/jobs/{id}/reprocess", {"eta": "tomorrow"}, "'eta'"),
        ("/jobs/{id}/reprocess", {"delay": 1, "eta": "2030-01-01T00:00:00Z"}, "'delay' or 'eta'"),
        ("/jobs/{id}/reprocess", {"layout": "yes"}, "layout"),
        ("/jobs/{id}/reprocess", {"ocr_langs": "eng"}, "'ocr_langs'"),
        (
            "/uploads",
            {"filename": "a.pdf", "content_type": "application/pdf", "ocr_langs": 1},
            "'ocr_langs'",
        ),
    ],
)
def test_a_bad_json_body_is_400_naming_the_field(client, path, body, field):
    job_id = post_pdf(client, JO.read_bytes()).get_json()["id"]
    response = client.post(API + path.format(id=job_id), json=body)
    assert response.status_code == 400, response.get_json()
    assert response.get_json()["error"]["code"] == "bad_request"
    assert field in response.get_json()["error"]["message"]


def test_malformed_json_is_400(client):
    response = client.post(f"{API}/uploads", data=b'{"filename": ', content_type="application/json")
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "bad_request"


EVENTS_SECRET = "an-events-secret-long-enough"


@pytest.mark.env(EVENTS_WEBHOOK_SECRET=EVENTS_SECRET)
@pytest.mark.parametrize("path", ["/uploads", "/jobs/{id}/reprocess", "/events/s3"])
def test_deeply_nested_json_is_400_not_a_crash(client, path):
    job_id = post_pdf(client, JO.read_bytes()).get_json()["id"]
    body = b"[" * 20_000 + b"]" * 20_000  # 40 KB, under MAX_JSON_BYTES
    response = client.post(
        API + path.format(id=job_id),
        data=body,
        content_type="application/json",
        headers=bearer(EVENTS_SECRET),
    )
    assert response.status_code == 400, response.get_json()
    assert response.get_json()["error"]["code"] == "bad_request"
    assert "nests deeper" in response.get_json()["error"]["message"]


def test_deeply_nested_laparams_in_a_form_is_400_not_a_crash(client):
    body, kind = multipart(JO.read_bytes(), "jo.pdf", fields={"laparams": "[" * 20_000})
    response = client.post(f"{API}/documents", data=body, content_type=kind)
    assert response.status_code == 400, response.get_json()
    assert "laparams" in response.get_json()["error"]["message"]


def test_json_nesting_is_measured_outside_strings():
    assert limits.json_depth(json.loads(b'{"a": [1, {"b": "[[[[{{{{"}]}')) == 3
    assert limits.json_depth(json.loads(b'["\\"[[[["]')) == 1
    assert limits.json_depth("[[[[") == 0


def test_a_nesting_deeper_than_the_limit_but_within_the_parsers_is_400(client):
    body = "[" * (limits.MAX_JSON_DEPTH + 1) + "]" * (limits.MAX_JSON_DEPTH + 1)
    response = client.post(f"{API}/uploads", data=body, content_type="application/json")
    assert response.status_code == 400, response.get_json()
    assert "nests deeper" in response.get_json()["error"]["message"]


@pytest.mark.parametrize("path", ["/uploads", "/jobs/{id}/reprocess"])
def test_a_body_of_escaped_quotes_is_answered_in_linear_time(client, path):
    job_id = post_pdf(client, JO.read_bytes()).get_json()["id"]
    # '"\"\"\"...' up to MAX_JSON_BYTES: a backtracking scan of JSON strings is quadratic in
    # it (tens of seconds of CPU, the GIL held); parsing it is not.
    body = b'"' + b'\\"' * 32_767
    assert len(body) <= 64 * 1024
    started = time.monotonic()
    response = client.post(API + path.format(id=job_id), data=body, content_type="application/json")
    # Generous: it ends in milliseconds; the quadratic scan took tens of seconds.
    assert time.monotonic() - started < 5
    assert response.status_code == 400, response.get_json()
    assert response.get_json()["error"]["code"] == "bad_request"
