"""Batches (core/jobs/batches.py, functions/batch_views.py): 202 at once with the jobs made by
a worker's task, counts and pages while they run, the jobs a page at a time, a manifest and a
signed batch.finished webhook at the end, cancel and DELETE for the whole batch."""

import json

import pytest

from core import keys, webhooks
from core.adapters.queue import MAKE_BATCH_JOBS
from core.jobs import batch_making, batches
from tests.support.corpus import GOOD
from tests.support.origin import Origin
from tests.support.receiver import Receiver

PDF = (GOOD / "pdfminer_jo.pdf").read_bytes()
SERVED = (200, {"Content-Type": "application/pdf"}, PDF)
BATCHES = "/api/v1/pdf/batches"
SECRET = "a-webhook-secret-long-enough"
PRIVATE_OK = {"SOURCE_ALLOW_PRIVATE": "true"}


@pytest.fixture
def origin():
    server = Origin({f"/{n}.pdf": SERVED for n in range(5)})
    yield server
    server.stop()


def create(client, sources, **fields) -> dict:
    response = client.post(BATCHES, json={"sources": sources, **fields})
    assert response.status_code == 202, response.get_json()
    assert response.headers["Location"] == response.get_json()["links"]["self"]
    return response.get_json()


@pytest.mark.env(WEBHOOK_SECRET=SECRET, WEBHOOK_ALLOW_PRIVATE="true", **PRIVATE_OK)
def test_a_batch_runs_every_source_and_ends_with_its_manifest_and_webhook(client, origin):
    receiver = Receiver(webhooks.tenant_secret(SECRET, "public"))
    try:
        sources = [origin.url(f"/{n}.pdf") for n in range(5)]
        sources.append({"url": origin.url("/missing.pdf"), "filename": "lost.pdf"})
        made = create(client, sources, pages="1", callback_url=receiver.url)
        assert made["total"] == 6
        batch = client.get(made["links"]["self"]).get_json()
        assert batch["status"] == "finished" and batch["ended_at"]
        assert batch["counts"]["succeeded"] == 5 and batch["counts"]["failed"] == 1
        assert batch["jobs_done"] == 6 and batch["pages_done"] == 5
        manifest = client.get(made["links"]["manifest"])
        lines = [json.loads(line) for line in manifest.get_data(as_text=True).splitlines()]
        assert [line["status"] for line in lines] == ["succeeded"] * 5 + ["failed"]
        assert lines[5]["filename"] == "lost.pdf" and lines[5]["error_code"] == "source_rejected"
        assert all(line["result_key"] for line in lines[:5])
        [delivery] = receiver.wait_for(1, timeout=10)
        assert delivery["valid"] and delivery["body"]["event"] == "batch.finished"
        assert delivery["body"]["batch"]["counts"]["succeeded"] == 5
    finally:
        receiver.stop()


@pytest.mark.env(**PRIVATE_OK)
def test_the_batch_s_jobs_come_a_page_at_a_time_in_source_order(client, origin):
    made = create(client, [origin.url(f"/{n}.pdf") for n in range(5)])
    first = client.get(f"{made['links']['jobs']}?limit=3").get_json()
    assert [job["filename"] for job in first["jobs"]] == ["0.pdf", "1.pdf", "2.pdf"]
    rest = client.get(f"{made['links']['jobs']}?limit=3&cursor={first['next_cursor']}").get_json()
    assert [job["filename"] for job in rest["jobs"]] == ["3.pdf", "4.pdf"]
    assert rest["next_cursor"] is None
    assert all(job["source_url"] for job in first["jobs"] + rest["jobs"])
    assert client.get(f"{made['links']['jobs']}?cursor=nonsense").status_code == 400


def test_the_web_only_records_the_batch_a_worker_makes_its_jobs(client, services, monkeypatch):
    queued = []
    monkeypatch.setattr(
        services.queue, "put_first", lambda name, *args: queued.append((name, args))
    )
    made = create(client, ["https://files.example/a.pdf", "https://files.example/b.pdf"])
    assert queued == [(MAKE_BATCH_JOBS, ("public", made["id"]))]
    assert sorted(services.storage.list_keys("")) == sorted(
        [keys.batch_key("public", made["id"]), keys.batch_sources_key("public", made["id"])]
    )
    assert client.get(made["links"]["self"]).get_json()["status"] == "making"


def test_making_the_jobs_again_makes_only_the_missing_ones(services, held):
    sources = [{"url": f"https://files.example/{n}.pdf", "filename": f"{n}.pdf"} for n in range(4)]
    batch = batches.create(services, "public", sources, options={}, engine=None, callback_url=None)
    batch_making.make_jobs(services, "public", batch.id)  # ran once here (the queue is immediate)
    first = len(held)
    batch_making.make_jobs(services, "public", batch.id)  # a retried task
    assert first == 4 and len(held) == 4


def test_a_canceled_batch_cancels_its_waiting_jobs_and_ends_canceled(client, services, held):
    made = create(client, [f"https://files.example/{n}.pdf" for n in range(3)])
    assert len(held) == 3  # made, waiting for their turn
    canceled = client.post(made["links"]["cancel"])
    assert canceled.status_code == 202
    batch = client.get(made["links"]["self"]).get_json()
    assert batch["status"] == "canceled" and batch["counts"]["canceled"] == 3
    assert batch["ended_at"]
    lines = client.get(made["links"]["manifest"]).get_data(as_text=True).splitlines()
    assert [json.loads(line)["status"] for line in lines] == ["canceled"] * 3
    assert client.post(made["links"]["cancel"]).status_code == 409


def test_delete_erases_every_job_and_the_batch(client, services, held):
    made = create(client, [f"https://files.example/{n}.pdf" for n in range(3)])
    job_ids = [job["id"] for job in client.get(made["links"]["jobs"]).get_json()["jobs"]]
    assert client.delete(made["links"]["self"]).status_code == 202
    assert client.get(made["links"]["self"]).status_code == 404
    for job_id in job_ids:
        assert client.get(f"/api/v1/pdf/jobs/{job_id}").status_code == 410
    assert list(services.storage.list_keys("batches/")) == []


@pytest.mark.parametrize(
    ("sources", "named"),
    [
        ([], "'sources'"),
        (["https://a.example/x.pdf", "ftp://b.example/y.pdf"], "sources[1]"),
        ([{"url": "https://a.example/x.pdf", "colour": "red"}], "sources[0]"),
        (["https://a.example/x.pdf"] * (batches.MAX_SOURCES + 1), "'sources'"),
    ],
)
def test_a_bad_batch_is_400_naming_the_source(client, sources, named):
    response = client.post(BATCHES, json={"sources": sources})
    assert response.status_code == 400
    assert named in response.get_json()["error"]["message"]


def test_another_tenant_s_batch_is_not_found(client):
    assert client.get(f"{BATCHES}/{keys.new_job_id()}").status_code == 404
    assert client.get(f"{BATCHES}/not-an-id").status_code == 404
