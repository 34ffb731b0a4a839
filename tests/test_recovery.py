"""Recovery in one process: lost queue entries and dead workers, against moto and SQLite state."""

import pytest

from consumer import pipeline, recovery, tasks
from core import keys, services
from core.jobs import JobStatus
from core.queue import huey
from tests.corpus import GOOD


@pytest.fixture
def store(s3, setenv):
    setenv(RECONCILE_GRACE_SECONDS="0")
    return services.jobs()


def stored_job(store, name="pdfminer_jo.pdf"):
    job_id = keys.new_job_id()
    store.storage.put_bytes(keys.source_key("public", job_id), (GOOD / name).read_bytes())
    return store.create(job_id=job_id, tenant="public", filename=name, size=1)


def test_active_markers_follow_open_jobs(store):
    job = stored_job(store)
    assert (job.tenant, job.id) in set(store.active())
    pipeline.process(job.source_key)
    assert (job.tenant, job.id) not in set(store.active())


def test_a_queued_job_the_queue_forgot_is_enqueued_once(store):
    job = stored_job(store)  # recorded, never enqueued: as after FLUSHALL
    calls = []
    report = recovery.reconcile(lambda j, eta=None: calls.append((j.id, eta)))
    assert calls == [(job.id, None)]
    assert report.requeued == 1


def test_an_enqueued_job_is_left_alone(store):
    job = stored_job(store)
    services.inflight().mark_enqueued(job.id, "task-1")
    calls = []
    recovery.reconcile(lambda j, eta=None: calls.append(j.id))
    assert calls == []


def test_a_scheduled_job_keeps_its_time(store):
    job = store.transition(
        stored_job(store), JobStatus.SCHEDULED, scheduled_for="2031-01-01T02:00:00.000Z"
    )
    calls = []
    recovery.reconcile(lambda j, eta=None: calls.append(eta))
    assert calls == ["2031-01-01T02:00:00.000Z"]
    assert store.get(job.id, "public").status is JobStatus.SCHEDULED


def test_enqueue_job_schedules_at_the_given_time(store):
    job = store.transition(
        stored_job(store), JobStatus.SCHEDULED, scheduled_for="2031-01-01T02:00:00.000Z"
    )
    tasks.enqueue_job(job, eta=job.scheduled_for)
    [task] = huey.scheduled()
    assert task.eta.isoformat() == "2031-01-01T02:00:00"
    assert services.inflight().is_enqueued(job.id)


def test_a_job_whose_worker_died_is_requeued_then_quarantined(store, setenv):
    setenv(RECONCILE_GRACE_SECONDS="0", MAX_WORKER_CRASHES="2")
    store = services.jobs()
    job = stored_job(store)
    calls = []
    for _ in range(2):
        # A worker took it and died: processing, no lease, no enqueue marker.
        job = store.transition(store.get(job.id, "public"), JobStatus.PROCESSING, worker="w9")
        recovery.reconcile(lambda j, eta=None: calls.append(j.id))
    job = store.get(job.id, "public")
    assert calls == [job.id]  # requeued after the first death only
    assert job.status is JobStatus.FAILED
    assert job.error["code"] == "worker_crashed"
    assert [a["outcome"] for a in job.attempts] == ["worker_lost", "worker_lost"]


def test_a_job_with_a_live_lease_is_not_touched(store):
    job = store.transition(stored_job(store), JobStatus.PROCESSING, worker="w1")
    services.inflight().acquire(job.id, "w1")
    calls = []
    recovery.reconcile(lambda j, eta=None: calls.append(j.id))
    assert calls == []
    assert store.get(job.id, "public").status is JobStatus.PROCESSING


def test_recent_changes_are_left_alone(store, setenv):
    setenv(RECONCILE_GRACE_SECONDS="600")
    stored_job(services.jobs())
    calls = []
    recovery.reconcile(lambda j, eta=None: calls.append(j.id))
    assert calls == []


def test_one_pass_at_a_time(store):
    services.state().set_if_absent(recovery.LOCK_KEY, "1", 60)
    assert recovery.reconcile(lambda j, eta=None: None).skipped


def test_a_delivery_for_a_leased_job_is_deferred(store):
    job = stored_job(store)
    services.inflight().acquire(job.id, "someone-else")
    with pytest.raises(pipeline.Deferred):
        pipeline.process(job.source_key)
    tasks.extract_document(job.source_key)  # the task wrapper looks again later
    [later] = huey.scheduled()
    assert later.args == (job.source_key,)


def test_interrupted_job_goes_back_to_the_queue(store):
    job = store.transition(stored_job(store), JobStatus.PROCESSING, worker="w1")
    services.inflight().acquire(job.id, "w1")
    enqueued = []
    pipeline.interrupted(job.source_key, enqueued.append)
    job = store.get(job.id, "public")
    assert job.status is JobStatus.QUEUED
    assert job.attempts[-1]["outcome"] == "interrupted"
    assert [j.id for j in enqueued] == [job.id]
    assert services.inflight().holder(job.id) is None


def test_the_periodic_recovery_task_runs_every_minute():
    import datetime as dt

    task = tasks.recover_jobs.task_class()
    start = dt.datetime(2030, 1, 1, 0, 0)
    minutes = [start + dt.timedelta(minutes=m) for m in range(5)]
    assert all(task.validate_datetime(when) for when in minutes)


def awaiting(store, uploaded: bool):
    """A presigned upload created two hours ago: its URLs (PRESIGN_EXPIRY) have expired."""
    job_id = keys.new_job_id()
    if uploaded:
        store.storage.put_bytes(
            keys.source_key("acme", job_id), (GOOD / "pdfminer_jo.pdf").read_bytes()
        )
    job = store.create(
        job_id=job_id, tenant="acme", filename="a.pdf", size=0, status=JobStatus.AWAITING_UPLOAD
    )
    return store.transition(job, job.status, created_at="2020-01-01T00:00:00.000Z")


def test_an_upload_that_never_arrived_fails_upload_expired_and_frees_its_slot(store):
    job = awaiting(store, uploaded=False)
    assert store.in_flight("acme") == 1
    report = recovery.reconcile(lambda j, eta=None: None)
    assert report.uploads_expired == 1
    failed = store.get(job.id, "acme")
    assert failed.status is JobStatus.FAILED and failed.error["code"] == "upload_expired"
    assert store.in_flight("acme") == 0


def test_an_upload_that_arrived_but_was_never_completed_is_queued(store, enqueued):
    job = awaiting(store, uploaded=True)
    report = recovery.reconcile(lambda j, eta=None: None)
    assert report.uploads_completed == 1
    assert enqueued == [job.source_key]


def test_an_upload_whose_urls_are_still_valid_is_left_waiting(store):
    job = awaiting(store, uploaded=False)
    store.transition(job, job.status, created_at=job.updated_at)  # just created
    report = recovery.reconcile(lambda j, eta=None: None)
    assert report.uploads_expired == 0
    assert store.get(job.id, "acme").status is JobStatus.AWAITING_UPLOAD
