"""Recovery in one process (consumer/recovery): lost queue entries, dead workers, abandoned
uploads, against moto and the embedded state store."""

import datetime as dt
import threading
import time

import pytest

from consumer import pipeline, recovery, tasks
from core import keys
from core.adapters.queue import EXTRACT_DOCUMENT
from core.errors import QueueUnavailable, StorageUnavailable
from core.jobs.lifecycle import Deferred
from core.jobs.model import JobStatus
from core.services import build
from core.settings import load_settings
from tests.support.corpus import GOOD
from tests.support.jobs import (
    lease_missing_for_a_while,
    moved,
    recorded_job,
    stored_job,
    wiped,
)

pytestmark = pytest.mark.env(RECONCILE_GRACE_SECONDS="0")
LATER = "2031-01-01T02:00:00.000Z"


def jo(services, tenant="public"):
    return stored_job(services, GOOD / "pdfminer_jo.pdf", tenant)


def test_the_open_set_follows_open_jobs(services):
    job = jo(services)
    assert services.records.live.open_jobs("public") == [job.id]
    pipeline.process(services, job.source_key)
    assert services.records.live.open_jobs("public") == []


def test_a_pass_reads_nothing_from_storage_when_all_is_well(services, held, monkeypatch):
    job = moved(services, jo(services), JobStatus.PROCESSING, worker="w")
    services.inflight.acquire(job.id, "w")  # a live worker runs it
    recovery.reconcile(services)  # the first pass of a state store: writes its epoch, the mark
    read = []
    for name in ("get_json", "get_bytes", "head", "list_page", "list_objects", "put_bytes"):
        real = getattr(services.storage, name)
        monkeypatch.setattr(
            services.storage, name, lambda *a, real=real, **k: read.append(a) or real(*a, **k)
        )
    report = recovery.reconcile(services)
    assert report.checked == 1 and read == [] and not report.acted


def test_after_the_state_store_lost_its_data_open_jobs_are_found_in_storage(services, held):
    done = jo(services)
    pipeline.process(services, done.source_key)
    rerun = moved(services, services.records.get(done.id, "public"), JobStatus.QUEUED)
    waiting = jo(services)
    recovery.reconcile(services)  # all is well: the mark is written
    held.clear()
    wiped(services)  # Redis flushed: open sets, live copies, queue, counters gone
    report = recovery.reconcile(services)
    assert report.found_again == 2
    assert {j.id for j, _ in held} == {rerun.id, waiting.id}
    assert set(services.records.live.open_jobs("public")) == {rerun.id, waiting.id}
    assert services.records.counts()["queued"] == 2


def test_finished_counts_come_back_from_their_hourly_copy_after_a_loss(services, held):
    for _ in range(2):
        pipeline.process(services, jo(services).source_key)
    recovery.save_counts(services)
    wiped(services)
    recovery.reconcile(services)
    assert services.records.counts()["succeeded"] == 2
    assert services.records.counts("public")["succeeded"] == 2


def test_a_queued_job_the_queue_forgot_is_enqueued_once(services, held):
    job = jo(services)  # recorded, never enqueued: as after FLUSHALL
    report = recovery.reconcile(services)
    assert [(j.id, eta) for j, eta in held] == [(job.id, None)]
    assert report.requeued == 1


def test_an_enqueued_job_is_left_alone(services, held):
    job = jo(services)
    task = services.queue.task(EXTRACT_DOCUMENT, job.source_key, eta=LATER)
    services.queue.enqueue(task)  # a real task, waiting in the schedule
    services.inflight.mark_enqueued(job.id, task.id)
    report = recovery.reconcile(services)
    assert held == []
    assert report.stale_markers == 0


def test_a_marker_whose_task_is_gone_is_removed_and_the_job_requeued(services, held):
    # Storage was down for longer than the task's retries: Huey dropped the task, but its
    # marker (14 days) stayed and told every pass the job was queued.
    job = jo(services)
    services.inflight.mark_enqueued(job.id, "dropped-task")
    report = recovery.reconcile(services)
    assert (report.stale_markers, report.requeued) == (1, 1)
    assert [j.id for j, _ in held] == [job.id]


@pytest.mark.env(RECONCILE_GRACE_SECONDS="600")
def test_a_young_marker_is_trusted_while_its_task_may_be_in_transit(services, held):
    job = jo(services)
    services.inflight.mark_enqueued(job.id, "taken-by-a-worker-just-now")
    assert recovery.reconcile(services).stale_markers == 0


def test_a_retry_s_marker_expires_soon_after_the_retry_is_due(services):
    job = moved(services, jo(services), JobStatus.PROCESSING, worker="w")
    services.inflight.acquire(job.id, "w")
    services.lifecycle.retry_later(job, StorageUnavailable(), "w", delay=60)
    expires_at = services.state._db.execute(
        "select expires_at from state where key = ?", (keys.enqueued_key(job.id),)
    ).fetchone()[0]
    ttl = expires_at - time.time()
    assert 60 < ttl <= 60 + keys.RETRY_MARKER_GRACE


def test_a_scheduled_job_keeps_its_time(services, held):
    job = moved(services, jo(services), JobStatus.SCHEDULED, scheduled_for=LATER)
    recovery.reconcile(services)
    assert [(j.id, eta) for j, eta in held] == [(job.id, LATER)]
    assert services.records.get(job.id, "public").status is JobStatus.SCHEDULED


def test_a_requeued_scheduled_job_is_on_the_schedule_at_its_time(services):
    job = moved(services, jo(services), JobStatus.SCHEDULED, scheduled_for=LATER)
    services.lifecycle.requeue(job)
    [task] = services.huey.scheduled()
    assert task.eta.isoformat() == "2031-01-01T02:00:00"
    assert services.inflight.is_enqueued(job.id)


@pytest.mark.env(MAX_WORKER_CRASHES="2")
def test_a_job_whose_worker_died_is_requeued_then_quarantined(services, held):
    job = jo(services)
    for death in range(2):
        # A worker took it and died: processing, no lease, no enqueue marker.
        moved(services, job, JobStatus.PROCESSING, worker="w9")
        assert recovery.reconcile(services).missing_leases == 1  # noted, left for now
        assert len(held) == death
        lease_missing_for_a_while(services, job)
        recovery.reconcile(services)
    job = services.records.get(job.id, "public")
    assert [(j.id, eta) for j, eta in held] == [
        (job.id, None)
    ]  # requeued after the first death only
    assert job.status is JobStatus.FAILED
    assert job.error["code"] == "worker_crashed"
    assert [a["outcome"] for a in job.attempts] == ["worker_lost", "worker_lost"]


def test_a_lease_lost_to_an_outage_and_renewed_is_not_a_death(services, held):
    job = moved(services, jo(services), JobStatus.PROCESSING, worker="w1")
    # Redis was down longer than the lease: the pass right after finds no lease.
    assert recovery.reconcile(services).missing_leases == 1
    lease_missing_for_a_while(services, job)
    assert services.inflight.renew(job.id, "w1")  # the live worker's next tick
    recovery.reconcile(services)
    services.inflight.drop_lease(job.id)  # a second outage: the count starts again
    assert recovery.reconcile(services).missing_leases == 1
    assert held == []
    assert services.records.get(job.id, "public").attempts == []


@pytest.mark.env(HUEY_IMMEDIATE="false", LEASE_SECONDS="7")
def test_a_pass_that_misses_a_lease_asks_for_another_a_lease_period_later(s3):
    runtime = build(load_settings())
    found = tasks.register(runtime)
    runtime.storage.configure("create the test bucket", "create_bucket")
    moved(runtime, jo(runtime), JobStatus.PROCESSING, worker="w9")
    found.recover_jobs.call_local()
    found.recover_jobs.call_local()  # a second pass before it: no second follow-up
    [later] = runtime.huey.pending()
    assert later.name == "recover_jobs"
    wait = (later.eta - dt.datetime.now(dt.UTC).replace(tzinfo=None)).total_seconds()
    assert 7 < wait <= 8


def test_a_job_with_a_live_lease_is_not_touched(services, held):
    job = moved(services, jo(services), JobStatus.PROCESSING, worker="w1")
    services.inflight.acquire(job.id, "w1")
    recovery.reconcile(services)
    assert held == []
    assert services.records.get(job.id, "public").status is JobStatus.PROCESSING


@pytest.mark.env(RECONCILE_GRACE_SECONDS="600")
def test_recent_changes_are_left_alone(services, held):
    jo(services)
    recovery.reconcile(services)
    assert held == []


def test_one_pass_at_a_time(services):
    services.state.set_if_absent(keys.RECOVERY_LOCK, "1", 60)
    assert recovery.reconcile(services).skipped


def test_a_pass_asked_to_wait_runs_once_the_running_pass_is_done(services):
    services.state.set_if_absent(keys.RECOVERY_LOCK, "1", 60)
    threading.Timer(0.5, services.state.delete, [keys.RECOVERY_LOCK]).start()
    report = recovery.reconcile(services, wait=10)
    assert not report.skipped
    assert services.state.get(keys.RECOVERY_LOCK) is None  # released after its own pass


def test_a_pass_drops_expired_state(services):
    services.state.set("short", "1", -1)  # already expired: never read again, now removed
    recovery.reconcile(services)
    rows = services.state._db.execute("select count(*) from state where key = 'short'")
    assert rows.fetchone() == (0,)


def test_a_delivery_for_a_leased_job_is_deferred(services):
    job = jo(services)
    services.inflight.acquire(job.id, "someone-else")
    with pytest.raises(Deferred):
        pipeline.process(services, job.source_key)
    # The task looks again once the lease could have run out.
    services.queue.enqueue(services.queue.task(EXTRACT_DOCUMENT, job.source_key))
    [later] = services.huey.scheduled()
    assert later.args == (job.source_key,)


def test_interrupted_job_goes_back_to_the_queue(services, held):
    job = moved(services, jo(services), JobStatus.PROCESSING, worker="w1")
    services.inflight.acquire(job.id, "w1")
    pipeline.interrupted_by_shutdown(services, job.source_key)
    job = services.records.get(job.id, "public")
    assert job.status is JobStatus.QUEUED
    assert job.attempts[-1]["outcome"] == "interrupted"
    assert [(j.id, eta) for j, eta in held] == [(job.id, None)]
    assert services.inflight.holder(job.id) is None


def test_the_periodic_recovery_task_runs_every_minute(s3):
    found = tasks.register(build(load_settings()))
    task = found.recover_jobs.task_class()
    start = dt.datetime(2030, 1, 1, 0, 0)
    minutes = [start + dt.timedelta(minutes=m) for m in range(5)]
    assert all(task.validate_datetime(when) for when in minutes)


@pytest.mark.env(HUEY_IMMEDIATE="false", LEASE_SECONDS="20", RECONCILE_GRACE_SECONDS="5")
def test_a_starting_consumer_schedules_one_pass_for_when_dead_workers_leases_run_out(s3):
    runtime = build(load_settings())
    tasks.register(runtime)
    for _ in range(2):  # the startup hooks run in every worker of the consumer
        for hook in runtime.huey._startup.values():
            hook()
    [soon] = runtime.huey.pending()
    assert soon.name == "recover_jobs"
    wait = (soon.eta - dt.datetime.now(dt.UTC).replace(tzinfo=None)).total_seconds()
    assert 19 < wait <= 21  # LEASE_SECONDS, the longer of the two, and a second


def awaiting(services, uploaded: bool):
    """A presigned upload created two hours ago: its URLs (PRESIGN_EXPIRY) have expired."""
    job_id = keys.new_job_id()
    if uploaded:
        services.storage.put_bytes(
            keys.source_key("acme", job_id), (GOOD / "pdfminer_jo.pdf").read_bytes()
        )
    job = recorded_job(services, "acme", job_id=job_id, size=0, status=JobStatus.AWAITING_UPLOAD)
    return moved(services, job, job.status, created_at="2020-01-01T00:00:00.000Z")


def test_an_upload_that_never_arrived_fails_upload_expired_and_frees_its_slot(services):
    job = awaiting(services, uploaded=False)
    assert services.records.in_flight("acme") == 1
    report = recovery.reconcile(services)
    assert report.uploads_expired == 1
    failed = services.records.get(job.id, "acme")
    assert failed.status is JobStatus.FAILED and failed.error["code"] == "upload_expired"
    assert failed.attempts[-1] == {**failed.attempts[-1], "worker": "recovery"}
    assert services.records.in_flight("acme") == 0


def test_an_upload_that_arrived_but_was_never_completed_is_queued(services, held):
    job = awaiting(services, uploaded=True)
    report = recovery.reconcile(services)
    assert report.uploads_completed == 1
    assert [(j.id, eta) for j, eta in held] == [(job.id, None)]


def test_an_upload_whose_urls_are_still_valid_is_left_waiting(services):
    job = awaiting(services, uploaded=False)
    moved(services, job, job.status, created_at=job.updated_at)  # just created
    report = recovery.reconcile(services)
    assert report.uploads_expired == 0
    assert services.records.get(job.id, "acme").status is JobStatus.AWAITING_UPLOAD


def test_a_pass_puts_drifted_counters_of_open_jobs_right_never_below_zero(services, held):
    waiting = jo(services)
    done = jo(services)
    pipeline.process(services, done.source_key)
    other = jo(services, tenant="acme")
    # Drift, as a process killed between a record write and its counter update leaves it.
    for key, change in (
        (keys.count_key("queued"), 5),
        (keys.count_key("awaiting_upload"), -5),
        (keys.count_key("queued", "acme"), -3),
    ):
        services.state.incr(key, change)
    recovery.reconcile(services)
    assert services.records.counts() == {
        **dict.fromkeys(services.records.counts(), 0),
        "queued": 2,
        "succeeded": 1,
    }
    assert services.records.counts("acme")["queued"] == 1
    assert services.records.counts("public")["queued"] == 1
    raw = services.state.get_many([keys.count_key("awaiting_upload")])
    assert int(raw[keys.count_key("awaiting_upload")] or 0) == 0  # stored right, not clamped
    assert {waiting.id, other.id} == {j.id for j, _ in held}


def state_down(monkeypatch, services):
    def down(*args, **kwargs):
        raise QueueUnavailable("Redis unreachable (test)")

    for name in ("get", "set", "set_if_absent", "delete", "incr", "get_many"):
        monkeypatch.setattr(services.state, name, down)


def test_a_retry_the_state_store_could_not_mark_still_reads_scheduled(services, monkeypatch):
    job = moved(services, jo(services), JobStatus.PROCESSING, worker="w")
    with monkeypatch.context() as patch:
        state_down(patch, services)
        services.lifecycle.retry_later(job, StorageUnavailable(), "w", delay=60)
    stored = services.records.get(job.id, job.tenant)
    assert stored.status is JobStatus.SCHEDULED  # not "processing 50/50" while it waits
    assert stored.scheduled_for and stored.error["code"] == "storage_unavailable"


@pytest.mark.env(MAX_WORKER_CRASHES="1")
def test_a_run_an_outage_ended_is_not_a_worker_death(services, held, monkeypatch):
    job = moved(services, jo(services), JobStatus.PROCESSING, worker="w")
    with monkeypatch.context() as patch:  # a blip: the retry cannot be recorded on the job
        patch.setattr(
            services.records.live,
            "put",
            lambda *a, **k: (_ for _ in ()).throw(QueueUnavailable("Redis blip (test)")),
        )
        services.lifecycle.retry_later(job, StorageUnavailable(), "w", delay=0)
    services.state.delete(keys.enqueued_key(job.id))  # the retry's marker ran out, no retry came
    lease_missing_for_a_while(services, job)
    report = recovery.reconcile(services)
    stored = services.records.get(job.id, job.tenant)
    assert stored.status is JobStatus.QUEUED, stored  # not quarantined at one "crash"
    assert [a["outcome"] for a in stored.attempts] == ["storage_unavailable"]
    assert report.quarantined == 0


def test_an_extraction_goes_on_while_the_state_store_is_down(services, monkeypatch):
    job = jo(services)
    state_down(monkeypatch, services)
    services.inflight.set_progress(job.id, 3, 10)  # no exception: progress is best effort
    assert services.inflight.cancel_requested(job.id) is False
