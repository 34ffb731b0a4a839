"""DELETE /api/v1/pdf/jobs/<id> (functions/job_control.py, core/jobs/lifecycle.py `erase`):
every object of the job erased now, a running job stopped first, a tombstone answering 410."""

import pytest

from consumer import parts, pipeline
from core import keys
from core.errors import Conflict, StorageUnavailable
from core.jobs import erasure
from core.jobs.model import JobStatus
from tests.support.api import upload
from tests.support.corpus import GOOD
from tests.support.jobs import moved, recorded_job, stored_job, wiped

JOBS = "/api/v1/pdf/jobs"


def objects_of(services, job_id: str) -> list[str]:
    return [key for key in services.storage.list_keys("") if job_id in key]


@pytest.fixture
def done(client, services) -> dict:
    """A succeeded job (immediate Huey), with a leftover part and its dedup entry."""
    job = upload(client, GOOD / "pdfminer_jo.pdf")
    record = services.records.get(job["id"], "public")
    assert record.status is JobStatus.SUCCEEDED and record.sha256
    services.storage.put_json(keys.part_key("public", job["id"], "run1", 1, 2), {"pages": []})
    return job


def test_delete_erases_the_source_results_parts_and_its_dedup_pointer(client, services, done):
    job_id = done["id"]
    record = services.records.get(job_id, "public")
    pointer = keys.dedup_key("public", record.sha256, record.result["dedup"])
    assert services.state.get(pointer).startswith(job_id)  # the pipeline remembered it
    unrelated = keys.dedup_key("public", record.sha256, "f" * 32)
    services.state.set(unrelated, f"{'e' * 32} results/public/x/y.jsonl", 60)  # another job's
    kinds = {key.split("/")[0] for key in objects_of(services, job_id)}
    assert {"sources", "results", "parts", "jobs"} <= kinds

    response = client.delete(f"{JOBS}/{job_id}")
    assert response.status_code == 204
    assert response.data == b""
    left = objects_of(services, job_id)
    assert {key.split("/")[0] for key in left} == {"jobs", "index"}  # tombstone + its entry
    assert services.state.get(pointer) is None
    assert services.state.get(unrelated) is not None
    tombstone = services.records.get(job_id, "public", tombstone=True)
    assert tombstone.status is JobStatus.DELETED
    assert (tombstone.filename, tombstone.sha256, tombstone.options) == ("", None, {})
    assert tombstone.attempts[-1]["outcome"] == "deleted"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", ""),
        ("GET", "/result"),
        ("GET", "/result?format=json"),
        ("GET", "/result/link"),
        ("POST", "/reprocess"),
        ("POST", "/cancel"),
        ("DELETE", ""),  # again: idempotent, and says when
    ],
)
def test_every_later_call_on_a_deleted_job_is_410_with_deleted_at(client, done, method, path):
    assert client.delete(f"{JOBS}/{done['id']}").status_code == 204
    response = client.open(f"{JOBS}/{done['id']}{path}", method=method, json={})
    assert response.status_code == 410
    error = response.get_json()["error"]
    assert error["code"] == "deleted"
    assert error["deleted_at"].endswith("Z")


def test_a_second_delete_finishes_an_erasure_cut_short(client, services, done, monkeypatch):
    def cut_short(storage, job):
        raise StorageUnavailable("storage went away mid-erasure")

    monkeypatch.setattr(erasure, "erase_objects", cut_short)
    assert client.delete(f"{JOBS}/{done['id']}").status_code == 503
    monkeypatch.undo()
    assert client.get(f"{JOBS}/{done['id']}").status_code == 410  # nothing served meanwhile
    assert client.delete(f"{JOBS}/{done['id']}").status_code == 410
    assert {key.split("/")[0] for key in objects_of(services, done["id"])} == {"jobs", "index"}


def test_a_queued_job_is_canceled_then_erased_and_its_task_revoked(client, services, held):
    job = recorded_job(services)
    services.lifecycle.requeue(job)  # held: on the queue, never run
    response = client.delete(f"{JOBS}/{job.id}")
    assert response.status_code == 204
    tombstone = services.records.get(job.id, "public", tombstone=True)
    assert [a["outcome"] for a in tombstone.attempts] == ["canceled", "deleted"]
    counts = services.records.counts("public")
    assert (counts["queued"], counts["canceled"], counts["deleted"]) == (0, 0, 1)


def test_a_running_job_is_erased_at_once_and_its_worker_keeps_nothing(services):
    # A live worker holds the job: DELETE does not wait for it in the web thread (it used to
    # sleep up to 10 s there). The record ends now; the worker, asked to stop, finds its
    # own end refused.
    job = moved(services, recorded_job(services), JobStatus.PROCESSING)
    services.inflight.acquire(job.id, "w1")
    tombstone, now = services.lifecycle.erase(job)
    assert now and tombstone.status is JobStatus.DELETED
    assert [a["outcome"] for a in tombstone.attempts] == ["canceled", "deleted"]
    assert services.inflight.cancel_requested(job.id)  # its tick stops it
    with pytest.raises(Conflict):  # the worker's end, at its next tick
        services.lifecycle.stop_canceled(job, "w1")
    assert services.records.get(job.id, "public", tombstone=True).status is JobStatus.DELETED


def test_the_worker_of_an_erased_job_writes_nothing_when_it_stops(services, monkeypatch):
    # Its end used to list the job as canceled, then take the entry back once the record
    # refused the end: a listing in between found the erased job again.
    job = moved(services, recorded_job(services), JobStatus.PROCESSING)
    services.inflight.acquire(job.id, "w1")
    services.lifecycle.erase(job)
    written = []
    for name in ("put_bytes", "put_json"):
        real = getattr(services.storage, name)
        monkeypatch.setattr(
            services.storage,
            name,
            lambda key, *a, _real=real, **k: written.append(key) or _real(key, *a, **k),
        )
    with pytest.raises(Conflict):
        services.lifecycle.stop_canceled(job, "w1")
    assert written == []


def test_a_running_job_deleted_through_the_api_answers_204_without_waiting(client, services):
    job = moved(services, stored_job(services, GOOD / "pdfminer_jo.pdf"), JobStatus.PROCESSING)
    services.inflight.acquire(job.id, "w1")
    assert client.delete(f"{JOBS}/{job.id}").status_code == 204
    assert client.get(f"{JOBS}/{job.id}").status_code == 410
    assert {key.split("/")[0] for key in objects_of(services, job.id)} == {"jobs", "index"}


def test_a_deleted_job_leaves_the_list_and_is_listed_as_deleted(client, done):
    client.delete(f"{JOBS}/{done['id']}")
    assert client.get(JOBS).get_json()["jobs"] == []
    gone = client.get(f"{JOBS}?status=deleted").get_json()["jobs"]
    assert [(job["id"], job["status"], job["filename"]) for job in gone] == [
        (done["id"], "deleted", "")
    ]


def test_delete_of_an_unknown_job_is_404(client):
    assert client.delete(f"{JOBS}/{'f' * 32}").status_code == 404


def test_a_part_a_worker_writes_after_the_erasure_is_removed_again(services):
    source = GOOD / "pdfminer_jo.pdf"
    job = moved(services, stored_job(services, source), JobStatus.PROCESSING)
    services.lifecycle.erase(job)  # no live worker holds it: canceled, then erased
    # A part worker that was still extracting pages when the job was erased, writes now.
    parts._extract_part(services, job, "pdfminer", 1, 1, source, tick=None)
    assert list(services.storage.list_keys(keys.parts_prefix("public", job.id))) == []


def test_two_deletes_racing_erase_once_and_the_loser_says_so(services, held):
    job = recorded_job(services)
    stale = services.records.get(job.id, "public")  # both callers read it queued
    first, erased_first = services.lifecycle.erase(job)
    second, erased_second = services.lifecycle.erase(stale)
    assert (erased_first, erased_second) == (True, False)
    assert second.status_changed_at == first.status_changed_at
    tombstone = services.records.get(job.id, "public", tombstone=True)
    assert [a["outcome"] for a in tombstone.attempts] == ["canceled", "deleted"]


def test_a_run_unseen_after_redis_lost_its_lease_writes_nothing_once_erased(
    client, services, monkeypatch
):
    """Redis lost the running job's lease and live copy: DELETE ends it at once and erases it
    while its worker still extracts. The worker's end is refused (the record moved on), so
    what it wrote goes again, no dedup pointer names it, and the same bytes uploaded later
    are extracted afresh."""
    job = stored_job(services, GOOD / "pdfminer_jo.pdf")
    started = services.lifecycle.start(services.records.get(job.id, "public"), "worker-1")
    real_extract = parts.extract

    def erased_meanwhile(*args, **kwargs):
        wiped(services)  # Redis restarted empty: no lease, no live copy
        assert client.delete(f"{JOBS}/{job.id}").status_code == 204
        return real_extract(*args, **kwargs)

    monkeypatch.setattr(parts, "extract", erased_meanwhile)
    # The worker does not look at the cancel request before its end (it was past it).
    monkeypatch.setattr(services.inflight, "cancel_requested", lambda job_id: False)
    assert pipeline._run(services, started, "worker-1", True, 0) is None
    left = {key.split("/")[0] for key in objects_of(services, job.id)}
    assert left == {"jobs", "index"}  # the tombstone and its entry: no result, no source
    monkeypatch.undo()
    again = upload(client, GOOD / "pdfminer_jo.pdf")
    rerun = services.records.get(again["id"], "public")
    assert rerun.status is JobStatus.SUCCEEDED and "reused_from" not in rerun.result
