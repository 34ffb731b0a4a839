"""Reprocess and cancel over HTTP (functions/job_control.py), in-process (immediate Huey,
moto): states, validation, schedule."""

import datetime as dt
import time

import pytest

from core.adapters.queue import EXTRACT_DOCUMENT
from core.clock import parse_time
from core.jobs.model import JobStatus
from tests.support.api import upload
from tests.support.corpus import GOOD
from tests.support.jobs import moved

JOBS = "/api/v1/pdf/jobs"


@pytest.fixture
def done_job(client):
    """A job that has succeeded once."""
    job = upload(client, GOOD / "pdfminer_jo.pdf")  # immediate Huey: it has run already
    assert client.get(f"{JOBS}/{job['id']}").get_json()["status"] == "succeeded"
    return job


def run_due_tasks(services, seconds_ahead: float = 10_000):
    """What a consumer does when scheduled tasks fall due: run them."""
    huey = services.huey
    due = dt.datetime.now(dt.UTC).replace(tzinfo=None) + dt.timedelta(seconds=seconds_ahead)
    for task in huey.read_schedule(due):
        huey.execute(task, due)


def test_reprocess_with_delay_schedules_the_job_at_its_time(client, services, done_job):
    before = dt.datetime.now(dt.UTC)
    response = client.post(f"{JOBS}/{done_job['id']}/reprocess", json={"delay": 2})
    assert response.status_code == 202, response.get_json()
    body = response.get_json()
    assert body["status"] == "scheduled"
    due = parse_time(body["scheduled_for"]) - before
    assert 1.9 <= due.total_seconds() <= 3
    assert services.huey.scheduled_count() == 1
    run_due_tasks(services, seconds_ahead=0)
    assert services.huey.scheduled_count() == 1  # not due yet
    time.sleep(due.total_seconds())
    run_due_tasks(services, seconds_ahead=0)
    job = client.get(f"{JOBS}/{done_job['id']}").get_json()
    assert job["status"] == "succeeded"
    assert job["attempts"] == 2


def test_reprocess_at_an_eta_and_without_delay(client, services, done_job):
    eta = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%S+00:00")
    body = client.post(f"{JOBS}/{done_job['id']}/reprocess", json={"eta": eta}).get_json()
    assert body["status"] == "scheduled"
    assert body["scheduled_for"].startswith(eta[:16])
    # Re-run at once instead: the scheduled task is revoked, the job runs now (immediate Huey).
    response = client.post(f"{JOBS}/{done_job['id']}/reprocess", json={})
    assert response.status_code == 202
    job = client.get(f"{JOBS}/{done_job['id']}").get_json()
    assert job["status"] == "succeeded"
    assert job["attempts"] == 2
    run_due_tasks(services)  # the revoked schedule entry does nothing
    assert client.get(f"{JOBS}/{done_job['id']}").get_json()["attempts"] == 2


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"delay": "soon"}, "'delay'"),
        ({"delay": -1}, "'delay'"),
        ({"eta": "tomorrow"}, "'eta'"),
        ({"delay": 5, "eta": "2030-01-01T00:00:00Z"}, "'delay' or 'eta'"),
        ({"pages": "3-1"}, "'pages'"),
        ({"max_pages": 0}, "'max_pages'"),
        ({"laparams": {"char_margin": "wide"}}, "'laparams.char_margin'"),
        ({"laparams": {"colour": 1}}, "'laparams.colour'"),
        ({"layout": "maybe"}, "'layout'"),
        ({"priority": 1}, "'priority'"),
    ],
)
def test_reprocess_refuses_bad_bodies_naming_the_field(client, done_job, body, field):
    response = client.post(f"{JOBS}/{done_job['id']}/reprocess", json=body)
    assert response.status_code == 400
    assert field in response.get_json()["error"]["message"]


def test_a_task_left_from_before_a_reschedule_does_not_run_the_job_early(
    client, services, done_job
):
    client.post(f"{JOBS}/{done_job['id']}/reprocess", json={"delay": 300})
    source_key = services.records.get(done_job["id"], "public").source_key
    # e.g. a Huey retry the revoke cannot reach
    services.queue.enqueue(services.queue.task(EXTRACT_DOCUMENT, source_key))
    job = client.get(f"{JOBS}/{done_job['id']}").get_json()
    assert job["status"] == "scheduled"
    assert job["attempts"] == 1


def test_reprocess_is_409_while_running_or_awaiting_upload(client, services, done_job):
    job = services.records.get(done_job["id"], "public")
    moved(services, job, JobStatus.QUEUED)
    moved(services, job, JobStatus.PROCESSING)
    response = client.post(f"{JOBS}/{job.id}/reprocess", json={})
    assert response.status_code == 409
    assert "running" in response.get_json()["error"]["message"]
    created = client.post(
        "/api/v1/pdf/uploads", json={"filename": "a.pdf", "content_type": "application/pdf"}
    ).get_json()
    response = client.post(f"{JOBS}/{created['id']}/reprocess", json={})
    assert response.status_code == 409


def test_reprocess_of_a_job_canceled_before_its_upload_is_409_not_expired(client):
    """Found by the schemathesis run: it answered 410 source_expired, "purged by retention"
    at a date still to come, for a PDF that never arrived."""
    created = client.post(
        "/api/v1/pdf/uploads", json={"filename": "a.pdf", "content_type": "application/pdf"}
    ).get_json()
    assert client.post(f"{JOBS}/{created['id']}/cancel").status_code == 200
    response = client.post(f"{JOBS}/{created['id']}/reprocess", json={})
    assert response.status_code == 409
    assert "never had a PDF accepted" in response.get_json()["error"]["message"]


def test_cancel_a_scheduled_job_and_it_never_runs(client, services, done_job):
    client.post(f"{JOBS}/{done_job['id']}/reprocess", json={"delay": 60})
    response = client.post(f"{JOBS}/{done_job['id']}/cancel")
    assert response.status_code == 200
    assert response.get_json()["status"] == "canceled"
    assert not services.inflight.is_enqueued(done_job["id"])
    run_due_tasks(services)
    job = client.get(f"{JOBS}/{done_job['id']}").get_json()
    assert job["status"] == "canceled"
    assert job["attempts"] == 2  # the first run and the cancel; no second run


def test_cancel_a_finished_job_is_409(client, done_job):
    response = client.post(f"{JOBS}/{done_job['id']}/cancel")
    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "conflict"


def test_cancel_a_running_job_leaves_a_flag_for_its_worker(client, services, done_job):
    job = services.records.get(done_job["id"], "public")
    job = moved(services, job, JobStatus.QUEUED)
    moved(services, job, JobStatus.PROCESSING)
    services.inflight.acquire(job.id, "some-worker")
    response = client.post(f"{JOBS}/{job.id}/cancel")
    assert response.status_code == 202
    body = response.get_json()
    assert body["status"] == "processing"
    assert body["cancel_requested"] is True
    assert services.inflight.cancel_requested(job.id)


def test_cancel_a_running_job_whose_worker_is_gone_ends_it_at_once(client, services, done_job):
    job = services.records.get(done_job["id"], "public")
    job = moved(services, job, JobStatus.QUEUED)
    moved(services, job, JobStatus.PROCESSING)
    response = client.post(f"{JOBS}/{job.id}/cancel")
    assert response.status_code == 200
    assert response.get_json()["status"] == "canceled"


def test_a_canceled_job_can_be_reprocessed(client, done_job):
    client.post(f"{JOBS}/{done_job['id']}/reprocess", json={"delay": 60})
    client.post(f"{JOBS}/{done_job['id']}/cancel")
    response = client.post(f"{JOBS}/{done_job['id']}/reprocess", json={})
    assert response.status_code == 202
    assert client.get(f"{JOBS}/{done_job['id']}").get_json()["status"] == "succeeded"
