"""Operations (functions/ops.py): health names what is down; the queue's shape by status."""

import pytest

from core.errors import StorageUnavailable
from tests.support.api import upload
from tests.support.corpus import BAD, GOOD


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
