"""Operations (functions/ops.py): health names what is down; the queue's shape by status."""

import datetime

import pytest

from core import keys, operations
from core.errors import StorageUnavailable
from core.jobs.model import JobStatus
from tests.support.api import upload
from tests.support.corpus import BAD, GOOD
from tests.support.jobs import moved, recorded_job


def test_health_is_ok_when_queue_and_storage_answer(client):
    response = client.get("/api/v1/pdf/health")
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "ok"
    assert body["checks"]["storage"]["ok"] and body["checks"]["queue"]["ok"]


def test_health_is_503_naming_what_is_down(client, services, monkeypatch):
    def down():
        raise StorageUnavailable("Object storage unreachable")

    monkeypatch.setattr(services.storage, "ping", down)
    response = client.get("/api/v1/pdf/health")
    assert response.status_code == 503
    body = response.get_json()
    assert body["error"]["code"] == "unhealthy"
    assert "storage" in body["error"]["message"]
    assert body["checks"]["storage"]["ok"] is False
    assert body["checks"]["queue"]["ok"] is True
    assert response.headers["Retry-After"]


@pytest.mark.env(HUEY_REDIS_URL="redis://:s3cret@127.0.0.1:1/0")
def test_health_says_redis_is_down_and_leaves_its_address_to_the_log(client, caplog):
    response = client.get("/api/v1/pdf/health")
    assert response.status_code == 503
    body = response.get_data(as_text=True)
    assert "The job queue (Redis) is unavailable" in response.get_json()["error"]["message"]
    for internal in ("127.0.0.1", ":1/0", "redis://", "s3cret"):
        assert internal not in body
    logged = " ".join(record.getMessage() for record in caplog.records)
    assert "Redis unreachable at redis://:***@127.0.0.1:1/0" in logged


@pytest.mark.env(HUEY_REDIS_URL="redis://127.0.0.1:1/0")
def test_a_503_of_any_endpoint_names_no_internal_address(client):
    response = client.get("/api/v1/pdf/queue/status")
    assert response.status_code == 503, response.get_json()
    assert response.get_json()["error"]["code"] == "queue_unavailable"
    assert "127.0.0.1" not in response.get_data(as_text=True)


def test_queue_status_counts_jobs_by_status(client):
    for path in (GOOD / "pdfminer_jo.pdf", BAD / "pdfminer_rc4-40.pdf"):
        upload(client, path)
    body = client.get("/api/v1/pdf/queue/status").get_json()
    assert body["queue"] == "pdf-tasks"
    assert body["pending"] == 0
    assert body["scheduled"] == 0
    assert body["jobs"]["succeeded"] == 1
    assert body["jobs"]["failed"] == 1
    assert body["jobs"]["queued"] == 0


def test_health_shows_what_the_store_honours(client):
    # moto honours conditional writes, lifecycle rules, notifications and CORS, and ignores
    # CopySourceIfMatch; unprovisioned, the web probed it itself.
    storage = client.get("/api/v1/pdf/health").get_json()["checks"]["storage"]
    assert storage["capabilities"]["conditional_create"] is True
    assert storage["capabilities"]["conditional_replace"] is True
    assert storage["lacks"] == ["copy_conditions"]
    assert storage["capabilities_source"] == "probed"


def test_the_operations_view_counts_jobs_finished_this_hour_and_failures_by_code(client):
    before = client.get("/api/v1/pdf/ops").get_json()
    upload(client, GOOD / "pdfminer_jo.pdf")
    upload(client, GOOD / "pdfjs_tracemonkey.pdf")
    upload(client, BAD / "pdfminer_aes-256-r6.pdf")
    body = client.get("/api/v1/pdf/ops").get_json()
    assert body["finished_total"] == before["finished_total"] + 3
    assert len(body["history"]) == operations.HISTORY_MINUTES
    counted = [point["finished"] or 0 for point in body["history"]]
    assert sum(counted) - sum(p["finished"] or 0 for p in before["history"]) == 3
    assert body["failures"] == {"encrypted": 1}
    assert body["jobs"]["succeeded"] == 2 and body["jobs"]["failed"] == 1
    assert body["queue"] == {"pending": 0, "scheduled": 0}
    assert body["checks"]["queue"]["ok"] and body["checks"]["storage"]["ok"]
    assert "languages" in body["ocr"]
    assert body == {**body, "running": [], "workers": []}


def test_each_minute_is_sampled_once_and_the_history_keeps_the_queue_depth(services):
    class Queue:
        depth = 4

        def pending(self):
            return self.depth

    queue = Queue()
    first = operations.sample(services.state, queue)
    queue.depth = 9
    operations.sample(services.state, queue)  # the same minute: the first sample stays
    kept = services.state.get(keys.ops_sample_key(operations.minute_now()))
    assert first["depth"] == 4 and '"depth": 4' in kept
    points = operations.history(services.state, {"finished": first["finished"] + 2, "depth": 9})
    assert points[-1]["finished"] == 2 and points[-1]["depth"] == 9  # the minute, live
    assert all(point["finished"] is None for point in points[:-1])  # nobody sampled them


def test_running_jobs_are_listed_with_their_workers(client, services):
    job = recorded_job(services)
    moved(services, job, JobStatus.PROCESSING, worker="host:12:3")
    body = client.get("/api/v1/pdf/ops").get_json()
    assert [(j["id"], j["worker"]) for j in body["running"]] == [(job.id, "host:12:3")]
    assert body["workers"] == [{"name": "host:12:3", "jobs": 1}]


def test_the_worker_samples_the_operations_view_every_minute(services):
    # services' Huey has pdfq's tasks registered (conftest builds it as every process does).
    [sampler] = [
        task
        for task in services.huey._registry.periodic_tasks
        if task.name.endswith("sample_operations")
    ]
    assert sampler.validate_datetime(datetime.datetime(2026, 1, 1, 9, 41))  # every minute
    services.huey.execute(sampler)
    assert services.state.get(keys.ops_sample_key(operations.minute_now())) is not None


@pytest.mark.env(HUEY_REDIS_URL="redis://:s3cret@127.0.0.1:1/0")
def test_the_operations_view_says_redis_is_down_instead_of_failing(client):
    response = client.get("/api/v1/pdf/ops")
    assert response.status_code == 200
    body = response.get_json()
    assert body["checks"]["queue"]["ok"] is False
    assert "The job queue (Redis) is unavailable" in body["checks"]["queue"]["error"]
    assert body["checks"]["storage"]["ok"] is True
    assert "history" not in body and "languages" in body["ocr"]
    assert "s3cret" not in response.get_data(as_text=True)
