"""Metrics (core/metrics.py, GET /metrics in functions/prometheus.py): counted in the shared
state store, written out in Prometheus' text format, guarded by METRICS_TOKEN."""

import pytest
from prometheus_client.parser import text_string_to_metric_families

from core import metrics
from core.adapters.queue import EXTRACT_DOCUMENT
from core.adapters.state import RedisState, SqliteState
from core.errors import StorageUnavailable
from core.jobs.model import JobStatus
from core.settings import load_settings
from tests.support.api import upload
from tests.support.corpus import BAD, GOOD
from tests.support.jobs import moved


def samples(text: str) -> dict[tuple, float]:
    """{(sample name, sorted labels): value}, read with Prometheus' own parser."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(text: str, name: str, **labels) -> float:
    return samples(text)[(name, tuple(sorted(labels.items())))]


@pytest.fixture(params=["sqlite", pytest.param("redis", marks=pytest.mark.integration)])
def state(request, tmp_path):
    if request.param == "sqlite":
        return SqliteState(tmp_path / "state.sqlite3")
    url = request.getfixturevalue("redis_url")
    return RedisState(load_settings({"HUEY_REDIS_URL": url}))


def page(state, **queue) -> str:
    queue = {"pending": 0, "scheduled": 0, "jobs": {"processing": 0}, **queue}
    return metrics.render(state, **queue)


def test_histograms_are_cumulative_with_sum_and_count(state):
    for seconds in (0.05, 0.3, 0.3, 7.5, 999):
        state.incr_many(metrics.observed(metrics.EXTRACTION_SECONDS, seconds))
    text = page(state)
    name = "pdfq_extraction_seconds_bucket"
    assert value(text, name, le="0.1") == 1
    assert value(text, name, le="0.25") == 1
    assert value(text, name, le="0.5") == 3
    assert value(text, name, le="10") == 4
    assert value(text, name, le="300") == 4
    assert value(text, name, le="+Inf") == 5
    assert value(text, "pdfq_extraction_seconds_count") == 5
    assert value(text, "pdfq_extraction_seconds_sum") == pytest.approx(1007.15)


def test_every_failure_code_is_listed_and_unknown_codes_count_as_other(state):
    class Failed:
        status, result, pages_total = "failed", None, None

        def __init__(self, code):
            self.error = {"code": code}

    for code in ("encrypted", "encrypted", "corrupt", "made_up"):
        state.incr_many(metrics.transition_counts("processing", Failed(code)))
    text = page(state)
    assert value(text, "pdfq_job_failures_total", code="encrypted") == 2
    assert value(text, "pdfq_job_failures_total", code="corrupt") == 1
    assert value(text, "pdfq_job_failures_total", code="other") == 1
    assert value(text, "pdfq_job_failures_total", code="storage_unavailable") == 0
    assert ("pdfq_job_failures_total", (("code", "made_up"),)) not in samples(text)


def test_the_keys_are_a_fixed_set_whatever_is_observed(state):
    for seconds in range(1000):
        state.incr_many(metrics.observed(metrics.EXTRACTION_SECONDS, seconds / 3))
    keys = metrics.EXTRACTION_SECONDS.keys()
    assert len(keys) == len(metrics.EXTRACTION_SECONDS.buckets) + 2  # + "+Inf" and the sum
    assert sum(int(state.get(k) or 0) for k in keys[:-1]) == 1000


# --- the page the app serves, fed by real jobs ---


def test_metrics_count_what_the_jobs_did(client):
    for path in (GOOD / "pdfminer_jo.pdf", GOOD / "pdfminer_dmca.pdf", BAD / "pdfminer_rc4-40.pdf"):
        upload(client, path)
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.content_type == metrics.CONTENT_TYPE
    text = response.get_data(as_text=True)
    assert value(text, "pdfq_jobs", status="succeeded") == 2
    assert value(text, "pdfq_jobs", status="failed") == 1
    assert value(text, "pdfq_jobs_in_flight") == 0
    assert value(text, "pdfq_queue_pending") == 0
    assert value(text, "pdfq_document_pages_count") == 2
    assert value(text, "pdfq_document_pages_sum") == 1 + 18
    assert value(text, "pdfq_document_pages_bucket", le="1") == 1
    assert value(text, "pdfq_extraction_seconds_count") == 2
    assert value(text, "pdfq_job_failures_total", code="encrypted") == 1


def test_a_retry_is_counted(client, services, monkeypatch):
    job = upload(client, GOOD / "pdfminer_jo.pdf")
    moved(services, services.records.get(job["id"], "public"), JobStatus.QUEUED)

    def down(*args, **kwargs):
        raise StorageUnavailable()

    monkeypatch.setattr(services.storage, "download_to", down)
    task = services.queue.task(EXTRACT_DOCUMENT, f"sources/public/{job['id']}.pdf")
    services.queue.enqueue(task)  # fails, is scheduled again
    text = client.get("/metrics").get_data(as_text=True)
    assert value(text, "pdfq_task_retries_total") == 1
    assert value(text, "pdfq_queue_scheduled") == 1


@pytest.mark.env(METRICS_TOKEN="a-metrics-token-of-24-chars")
def test_a_metrics_token_is_required_when_set(client):
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer nope"}).status_code == 401
    answer = client.get("/metrics", headers={"Authorization": "Bearer a-metrics-token-of-24-chars"})
    assert answer.status_code == 200
    assert client.get("/metrics").get_json()["error"]["code"] == "unauthorized"


@pytest.mark.env(METRICS_ENABLED="false")
def test_metrics_can_be_turned_off(client):
    response = client.get("/metrics")
    assert response.status_code == 404
    assert "METRICS_ENABLED" in response.get_json()["error"]["message"]


@pytest.mark.env(HUEY_REDIS_URL="redis://127.0.0.1:1/0")
def test_metrics_with_redis_down_is_503_naming_it(client):
    response = client.get("/metrics")
    assert response.status_code == 503
    assert "The job queue (Redis) is unavailable" in response.get_json()["error"]["message"]
    assert "127.0.0.1" not in response.get_data(as_text=True)
