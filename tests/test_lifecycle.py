"""The lifecycle (core/jobs/lifecycle.py): each move writes the record, records the attempt
and does all of its cleanup (lease, enqueue marker, cancel request, old task, webhook)."""

from concurrent.futures import ThreadPoolExecutor

import pytest

from core import keys
from core.errors import (
    Conflict,
    Corrupt,
    NotUploaded,
    QueueUnavailable,
    StorageUnavailable,
    UploadRejected,
)
from core.jobs.inflight import HUEY_RETRY
from core.jobs.lifecycle import Deferred
from core.jobs.model import JobStatus
from tests.support.corpus import GOOD
from tests.support.jobs import moved, stored_job

JO = GOOD / "pdfminer_jo.pdf"


@pytest.fixture
def taken(services, monkeypatch):
    """The queue takes tasks but runs none: (job ids of the extractions, webhook events)."""
    extractions, webhooks = [], []

    def enqueue(task):
        extractions.append(task.args[0])

    def put(name, *args, delay=None):
        webhooks.append(args)
        return "task"

    monkeypatch.setattr(services.queue, "enqueue", enqueue)
    monkeypatch.setattr(services.queue, "put", put)
    return extractions, webhooks


def awaiting(services, data: bytes | None, tenant="public", **fields):
    job = services.lifecycle.create(
        tenant=tenant, filename="a.pdf", size=0, awaiting_upload=True, **fields
    )
    if data is not None:
        services.storage.put_bytes(job.source_key, data)
    return job


# --- born ---


def test_a_created_job_is_queued_with_its_task_marked(services, taken):
    job = services.lifecycle.create(tenant="public", filename="a.pdf", size=3)
    assert services.records.get(job.id, "public").status is JobStatus.QUEUED
    assert taken[0] == [job.source_key]
    assert services.inflight.is_enqueued(job.id)


def test_a_created_job_whose_task_cannot_be_queued_is_removed(services, monkeypatch):
    def down(task):
        raise QueueUnavailable()

    monkeypatch.setattr(services.queue, "enqueue", down)
    with pytest.raises(QueueUnavailable):
        services.lifecycle.create(tenant="public", filename="a.pdf", size=3)
    assert list(services.storage.list_keys(keys.RECORDS_PREFIX)) == []
    assert services.records.counts()["queued"] == 0


def test_completing_an_upload_queues_it_once_however_many_complete_at_once(services, taken):
    job = awaiting(services, JO.read_bytes())
    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(lambda _: services.lifecycle.complete_upload(job, "t"), range(8)))
    assert sum(queued for _, queued in outcomes) == 1
    assert taken[0] == [job.source_key]
    assert services.records.get(job.id, "public").size == JO.stat().st_size


def test_completing_before_the_upload_arrived_is_not_uploaded(services):
    with pytest.raises(NotUploaded):
        services.lifecycle.complete_upload(awaiting(services, None), "t")


def test_a_refused_upload_fails_with_its_code_and_its_object_is_deleted(services, taken):
    job = awaiting(services, b"not a pdf at all", callback_url="https://example.com/hook")
    with pytest.raises(UploadRejected) as refused:
        services.lifecycle.complete_upload(job, "web:test")
    assert (refused.value.code, refused.value.status) == ("not_a_pdf", 422)
    failed = services.records.get(job.id, "public")
    assert failed.status is JobStatus.FAILED and failed.error["code"] == "not_a_pdf"
    assert failed.attempts[-1]["worker"] == "web:test"
    assert list(services.storage.list_keys(job.source_key)) == []
    with pytest.raises(UploadRejected):  # completing again says the same
        services.lifecycle.complete_upload(failed, "web:test")
    # Its webhook says so once (the client may have left: the bucket's event completed it).
    assert taken == ([], [(job.tenant, job.id, "job.failed")])


def test_a_completed_upload_the_queue_refuses_is_handed_back_to_complete_again(
    services, monkeypatch
):
    job = awaiting(services, JO.read_bytes())

    def down(task):
        raise QueueUnavailable()

    monkeypatch.setattr(services.queue, "enqueue", down)
    with pytest.raises(QueueUnavailable):
        services.lifecycle.complete_upload(job, "t")
    back = services.records.get(job.id, "public")
    assert back.status is JobStatus.AWAITING_UPLOAD
    assert not services.inflight.is_enqueued(job.id)


# --- run ---


def test_start_takes_the_lease_and_a_second_worker_is_deferred(services):
    job = stored_job(services, JO)
    services.inflight.mark_enqueued(job.id, "task-1")
    started = services.lifecycle.start(job, "w1")
    assert started.status is JobStatus.PROCESSING and started.worker == "w1"
    assert services.inflight.holder(job.id) == "w1"
    assert not services.inflight.is_enqueued(job.id)  # the lease speaks for it now
    with pytest.raises(Deferred):
        services.lifecycle.start(job, "w2")


def test_start_of_a_job_canceled_meanwhile_gives_the_lease_back(services):
    job = stored_job(services, JO)
    moved(services, job, JobStatus.CANCELED)
    assert services.lifecycle.start(job, "w1") is None
    assert services.inflight.holder(job.id) is None


def test_the_end_of_a_run_leaves_nothing_in_flight_and_queues_its_webhook(services, taken):
    job = stored_job(services, JO, callback_url="https://example.com/hook")
    job = services.lifecycle.start(job, "w1")
    services.inflight.request_cancel(job.id)  # came too late to stop it
    done = services.lifecycle.succeed(job, "w1", pages_total=1, pages_done=1)
    assert done.attempts[-1]["outcome"] == "succeeded"
    assert services.inflight.holder(job.id) is None
    assert not services.inflight.cancel_requested(job.id)
    assert taken[1] == [("public", job.id, "job.succeeded")]


def test_a_failed_run_keeps_its_code_and_calls_back(services, taken):
    job = services.lifecycle.start(stored_job(services, JO, callback_url="https://x.test/"), "w")
    failed = services.lifecycle.fail(job, Corrupt("bad xref"), "w")
    assert failed.error == {"code": "corrupt", "message": "bad xref"}
    assert failed.attempts[-1] == {**failed.attempts[-1], "worker": "w", "outcome": "corrupt"}
    assert taken[1] == [("public", job.id, "job.failed")]


def test_a_retryable_failure_waits_scheduled_for_hueys_retry(services):
    job = services.lifecycle.start(stored_job(services, JO), "w1")
    services.lifecycle.retry_later(job, StorageUnavailable(), "w1", delay=60)
    waiting = services.records.get(job.id, "public")
    assert waiting.status is JobStatus.SCHEDULED and waiting.scheduled_for
    assert waiting.error["code"] == "storage_unavailable"
    assert services.inflight.enqueued_task(job.id) == HUEY_RETRY
    assert services.inflight.holder(job.id) is None


def test_a_run_stopped_by_cancel_keeps_its_progress_and_calls_nobody(services, taken):
    job = services.lifecycle.start(stored_job(services, JO, callback_url="https://x.test/"), "w")
    services.inflight.set_progress(job.id, 2, 5)
    canceled = services.lifecycle.stop_canceled(job, "w")
    assert (canceled.status, canceled.pages_done, canceled.pages_total) == (
        JobStatus.CANCELED,
        2,
        5,
    )
    assert taken[1] == []


def test_an_interrupted_job_goes_back_to_the_queue_without_its_lease(services, taken):
    job = services.lifecycle.start(stored_job(services, JO), "w1")
    services.lifecycle.interrupt(job)
    back = services.records.get(job.id, "public")
    assert back.status is JobStatus.QUEUED and back.attempts[-1]["outcome"] == "interrupted"
    assert services.inflight.holder(job.id) is None
    assert taken[0] == [job.source_key]


# --- controlled ---


def test_reprocess_revokes_the_waiting_task_and_clears_a_cancel_request(services, monkeypatch):
    job = moved(services, stored_job(services, JO), JobStatus.FAILED)
    revoked = []
    monkeypatch.setattr(services.queue, "revoke", revoked.append)
    scheduled = services.lifecycle.reprocess(job, eta="2031-01-01T00:00:00.000Z")
    first_task = services.inflight.enqueued_task(job.id)
    services.inflight.request_cancel(job.id)
    again = services.lifecycle.reprocess(scheduled, eta="2032-01-01T00:00:00.000Z")
    assert revoked == [first_task]
    assert again.scheduled_for == "2032-01-01T00:00:00.000Z"
    assert not services.inflight.cancel_requested(job.id)


def test_reprocess_of_a_running_job_is_a_conflict(services):
    job = services.lifecycle.start(stored_job(services, JO), "w1")
    with pytest.raises(Conflict, match="running"):
        services.lifecycle.reprocess(job, eta=None)


def test_cancel_ends_a_waiting_job_and_asks_a_running_one(services, monkeypatch):
    revoked = []
    monkeypatch.setattr(services.queue, "revoke", revoked.append)
    waiting = stored_job(services, JO)
    services.inflight.mark_enqueued(waiting.id, "task-9")
    job, done = services.lifecycle.cancel(waiting)
    assert done and job.status is JobStatus.CANCELED and revoked == ["task-9"]
    assert not services.inflight.is_enqueued(waiting.id)

    running = services.lifecycle.start(stored_job(services, JO), "w1")
    job, done = services.lifecycle.cancel(running)
    assert not done and job.status is JobStatus.PROCESSING
    assert services.inflight.cancel_requested(running.id)


# --- recovered ---


def test_a_crashed_job_is_queued_again_until_it_is_quarantined(services, taken):
    job = stored_job(services, JO, callback_url="https://example.com/hook")
    job = moved(services, job, JobStatus.PROCESSING, worker="w9")
    again = services.lifecycle.recover_crashed(job, max_crashes=2)
    assert again.status is JobStatus.QUEUED and taken[0] == [job.source_key]
    job = moved(services, again, JobStatus.PROCESSING, worker="w9")
    failed = services.lifecycle.recover_crashed(job, max_crashes=2)
    assert failed.error["code"] == "worker_crashed"
    assert taken[1] == [(job.tenant, job.id, "job.failed")]  # at the end only, once


def test_an_upload_that_never_arrived_fails_and_its_webhook_says_so(services, taken):
    job = awaiting(services, None, callback_url="https://example.com/hook")
    failed = services.lifecycle.expire_upload(job)
    assert failed.error["code"] == "upload_expired"
    assert taken == ([], [(job.tenant, job.id, "job.failed")])


def test_a_webhook_attempt_is_logged_on_the_record_and_the_log_is_bounded(services):
    job = stored_job(services, JO)
    for attempt in range(55):
        services.lifecycle.record_delivery(job, {"attempt": attempt})
    deliveries = services.records.get(job.id, "public").deliveries
    assert len(deliveries) == 50 and deliveries[-1] == {"attempt": 54}
