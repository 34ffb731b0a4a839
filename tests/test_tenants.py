"""Tenant isolation: a tenant sees, changes and downloads only its own jobs and objects.

The matrix: every endpoint that takes a job id, called by another tenant, answers 404 exactly
as for an id that does not exist, and leaves the job as it was; the owner, calling the same
endpoint, gets past the lookup (so the 404 is about ownership, not a broken endpoint).
"""

import json
import time

import pytest

from core import webhooks
from functions import events
from tests.support.api import ACME, GLOBEX, TWO_TENANTS, bearer, post_pdf
from tests.support.corpus import GOOD
from tests.support.receiver import Receiver

API = "/api/v1/pdf"
JO = GOOD / "pdfminer_jo.pdf"
SECRET = "webhook-secret-0123456789"
# Two tenants with tokens, and webhooks signed per tenant (to a receiver on this machine).
pytestmark = pytest.mark.env(
    API_TOKENS=TWO_TENANTS,
    WEBHOOK_SECRET=SECRET,
    WEBHOOK_ALLOW_PRIVATE="true",
)

# (method, path, JSON body, which of acme's jobs, the owner's status): every job-id endpoint.
MATRIX = [
    ("GET", "/jobs/{id}", None, "done", 200),
    ("GET", "/jobs/{id}/result", None, "done", 200),
    ("GET", "/jobs/{id}/result?format=json", None, "done", 200),
    ("GET", "/jobs/{id}/result?format=pages", None, "done", 200),
    ("GET", "/jobs/{id}/result/link", None, "done", 200),
    ("GET", "/jobs/{id}/pages/1.png", None, "done", 200),
    ("GET", "/jobs/{id}/events", None, "done", 200),
    ("POST", "/jobs/{id}/reprocess", {"delay": 3600}, "done", 202),
    ("POST", "/jobs/{id}/outputs", {"outputs": ["tables"]}, "done", 202),
    ("POST", "/jobs/{id}/cancel", None, "waiting", 200),
    ("POST", "/uploads/{id}/complete", None, "waiting", 409),  # 409: nothing uploaded yet
    ("DELETE", "/jobs/{id}", None, "done", 204),
]


@pytest.fixture
def acme_jobs(client) -> dict[str, str]:
    """acme's jobs: one succeeded (Huey runs it at once here), one awaiting its upload."""
    done = post_pdf(client, JO.read_bytes(), headers=bearer(ACME)).get_json()
    done = client.get(f"{API}/jobs/{done['id']}", headers=bearer(ACME)).get_json()
    assert done["status"] == "succeeded", done
    waiting = client.post(
        f"{API}/uploads",
        json={"filename": "w.pdf", "content_type": "application/pdf"},
        headers=bearer(ACME),
    ).get_json()
    return {"done": done["id"], "waiting": waiting["id"]}


def call(client, method, path, body, job_id, token):
    url = API + path.format(id=job_id)
    return client.open(url, method=method, json=body, headers=bearer(token))


def test_the_matrix_covers_every_endpoint_that_takes_a_job_id(app):
    routes = {
        (method, rule.rule.removeprefix(API).replace("<job_id>", "{id}").replace("<int:page>", "1"))
        for rule in app.url_map.iter_rules()
        if "<job_id>" in rule.rule
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    assert routes == {(method, path.split("?")[0]) for method, path, *_ in MATRIX}


@pytest.mark.parametrize(("method", "path", "body", "which", "owner_status"), MATRIX)
def test_another_tenants_job_is_not_found_and_left_alone(
    client, acme_jobs, method, path, body, which, owner_status
):
    job_id = acme_jobs[which]
    before = client.get(f"{API}/jobs/{job_id}", headers=bearer(ACME)).get_json()

    denied = call(client, method, path, body, job_id, GLOBEX)
    assert denied.status_code == 404, denied.get_json()
    unknown = call(client, method, path, body, "f" * 32, GLOBEX)
    # The same answer as for an id nobody has: whether the job exists is not revealed.
    assert denied.get_json()["error"]["code"] == unknown.get_json()["error"]["code"] == "not_found"
    assert (
        denied.get_json()["error"]["message"].replace(job_id, "f" * 32)
        == (unknown.get_json()["error"]["message"])
    )

    after = client.get(f"{API}/jobs/{job_id}", headers=bearer(ACME)).get_json()
    assert after == before  # nothing changed: not canceled, not re-run, not completed

    assert call(client, method, path, body, job_id, ACME).status_code == owner_status


def test_a_tenant_lists_only_its_own_jobs(client, acme_jobs):
    globex = post_pdf(client, JO.read_bytes(), headers=bearer(GLOBEX)).get_json()
    acme = client.get(f"{API}/jobs", headers=bearer(ACME)).get_json()["jobs"]
    assert {job["id"] for job in acme} == set(acme_jobs.values())
    theirs = client.get(f"{API}/jobs", headers=bearer(GLOBEX)).get_json()
    assert [job["id"] for job in theirs["jobs"]] == [globex["id"]]
    # A cursor of acme's listing cannot page through globex's, nor the other way round.
    cursor = client.get(f"{API}/jobs?limit=1", headers=bearer(ACME)).get_json()["next_cursor"]
    stolen = client.get(f"{API}/jobs?cursor={cursor}", headers=bearer(GLOBEX))
    assert stolen.status_code == 400


def test_each_tenants_objects_live_under_its_own_prefix(client, services, acme_jobs):
    globex = post_pdf(client, JO.read_bytes(), headers=bearer(GLOBEX)).get_json()
    keys = list(services.storage.list_keys(""))
    for kind in ("sources", "jobs", "results"):
        assert f"{kind}/acme/{acme_jobs['done']}" in " ".join(keys)
        assert f"{kind}/globex/{globex['id']}" in " ".join(keys)
    for key in keys:
        assert ("acme" in key) != ("globex" in key), key  # every key names one tenant


def test_presigned_urls_write_only_under_the_callers_prefix(client):
    upload = client.post(
        f"{API}/uploads",
        json={"filename": "x.pdf", "content_type": "application/pdf", "size": 100},
        headers=bearer(GLOBEX),
    ).get_json()["upload"]
    assert upload["post"]["fields"]["key"] == f"sources/globex/{upload_id(upload)}.pdf"
    assert "/sources/globex/" in upload["put"]["url"]


def upload_id(upload: dict) -> str:
    return upload["post"]["fields"]["key"].rsplit("/", 1)[1].removesuffix(".pdf")


def test_the_same_idempotency_key_from_two_tenants_makes_two_jobs(client):
    key = {"Idempotency-Key": "order-42"}
    first = post_pdf(client, JO.read_bytes(), headers={**bearer(ACME), **key})
    second = post_pdf(client, JO.read_bytes(), headers={**bearer(GLOBEX), **key})
    assert first.status_code == second.status_code == 202
    assert first.get_json()["id"] != second.get_json()["id"]
    assert "Idempotent-Replayed" not in second.headers


def test_one_tenants_result_is_never_reused_for_another(client, services):
    acme = [post_pdf(client, JO.read_bytes(), headers=bearer(ACME)).get_json() for _ in range(2)]
    globex = post_pdf(client, JO.read_bytes(), headers=bearer(GLOBEX)).get_json()

    def reused(tenant: str, job_id: str) -> bool:
        record, _ = services.storage.get_json(f"jobs/{tenant}/{job_id}.json")
        return "reused_from" in json.dumps(record)

    assert reused("acme", acme[1]["id"])  # the same tenant's second upload reuses the first
    assert not reused("globex", globex["id"])


def test_queue_status_counts_only_the_callers_jobs(client, services, acme_jobs):
    acme = client.get(f"{API}/queue/status", headers=bearer(ACME)).get_json()["jobs"]
    globex = client.get(f"{API}/queue/status", headers=bearer(GLOBEX)).get_json()["jobs"]
    assert acme["succeeded"] == 1 and acme["awaiting_upload"] == 1
    assert set(globex.values()) == {0}
    assert services.records.counts()["succeeded"] == 1  # the whole service's, for /metrics


def test_queue_depth_is_one_number_for_everyone_and_names_no_tenants_jobs(client, acme_jobs):
    # The decision in docs/security.md: the queue's depth is the service's load, shown to all
    # (it is what 503 queue_full answers to); which jobs are whose is never shown.
    path = f"{API}/jobs/{acme_jobs['done']}/reprocess"
    assert client.post(path, json={"delay": 3600}, headers=bearer(ACME)).status_code == 202
    globex = client.get(f"{API}/queue/status", headers=bearer(GLOBEX)).get_json()
    assert globex["scheduled"] == 1  # acme's task, counted in the queue's depth
    assert set(globex["jobs"].values()) == {0}
    assert set(globex) == {"queue", "backend", "pending", "scheduled", "jobs"}


def test_each_tenant_signs_its_webhooks_with_its_own_secret(client):
    acme_secret = webhooks.tenant_secret(SECRET, "acme")
    globex_secret = webhooks.tenant_secret(SECRET, "globex")
    assert len({acme_secret, globex_secret, SECRET}) == 3

    receiver = Receiver(acme_secret)
    try:
        data = {"file": (JO.open("rb"), "jo.pdf"), "callback_url": receiver.url}
        response = client.post(f"{API}/documents", data=data, headers=bearer(ACME))
        assert response.status_code == 202, response.get_json()
        [delivery] = receiver.wait_for(1)
    finally:
        receiver.stop()
    assert delivery["valid"]  # signed with acme's secret...
    now = int(time.time())
    assert not webhooks.verify(globex_secret, delivery["signature"], delivery["raw"], now)
    assert not webhooks.verify(SECRET, delivery["signature"], delivery["raw"], now)


def test_an_inbox_for_a_tenant_without_a_token_is_ignored(client, services):
    storage = services.storage

    def record(key):
        return {
            "eventName": "ObjectCreated:Put",
            "s3": {"bucket": {"name": storage.bucket}, "object": {"key": key}},
        }

    storage.put_bytes("inbox/initech/a.pdf", JO.read_bytes(), "application/pdf")
    storage.put_bytes("inbox/acme/a.pdf", JO.read_bytes(), "application/pdf")
    with client.application.app_context():
        results = events.handle(
            services, {"Records": [record("inbox/initech/a.pdf"), record("inbox/acme/a.pdf")]}
        )
    assert [r["outcome"] for r in results] == ["ignored", "queued"]
    assert "initech" in results[0]["reason"]


def test_another_tenants_batch_is_not_found_and_left_alone(client, held):
    made = client.post(
        f"{API}/batches", json={"sources": ["https://a.example/x.pdf"]}, headers=bearer(ACME)
    ).get_json()
    for method, suffix in [
        ("GET", ""),
        ("GET", "/jobs"),
        ("GET", "/events"),
        ("GET", "/manifest"),
        ("POST", "/cancel"),
        ("DELETE", ""),
    ]:
        url = f"{API}/batches/{made['id']}{suffix}"
        answer = client.open(url, method=method, headers=bearer(GLOBEX))
        assert answer.status_code == 404, (method, suffix)
    mine = client.get(f"{API}/batches/{made['id']}", headers=bearer(ACME)).get_json()
    assert mine["status"] == "running" and mine["jobs_made"] == 1
