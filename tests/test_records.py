"""Job records (core/jobs/records.py): durable, per tenant, moved only by legal, conditional
writes that keep the counters and open-job markers in step."""

import pytest

from core import keys
from core.errors import Conflict, NotFound
from core.jobs.model import ALLOWED, TERMINAL, Job, JobStatus


@pytest.fixture
def records(services):
    return services.records


def new_job(records, status=JobStatus.QUEUED) -> Job:
    return records.create(
        job_id=keys.new_job_id(), tenant="t1", filename="a.pdf", size=10, status=status
    )


def test_a_created_job_is_durable_in_storage(records):
    job = new_job(records)
    again = records.get(job.id, "t1")
    assert again.status is JobStatus.QUEUED
    assert again.source_key == f"sources/t1/{job.id}.pdf"
    assert again.queued_at == job.created_at


@pytest.mark.parametrize("job_id", ["nope", "../../etc/passwd", "A" * 32])
def test_unknown_or_malformed_ids_are_not_found(records, job_id):
    with pytest.raises(NotFound):
        records.get(job_id, "t1")


def test_another_tenant_does_not_see_the_job(records):
    job = new_job(records)
    with pytest.raises(NotFound):
        records.get(job.id, "t2")


def test_transitions_stamp_times_and_count_statuses(records):
    job = new_job(records)
    job = records.transition(job, JobStatus.PROCESSING)
    assert job.started_at
    job = records.transition(job, JobStatus.SUCCEEDED, pages_total=3, pages_done=3)
    assert job.finished_at
    assert records.get(job.id, "t1").pages_total == 3
    counts = records.counts()
    assert counts["succeeded"] == 1
    assert counts["queued"] == 0
    assert counts["processing"] == 0
    assert records.counts("t1")["succeeded"] == 1
    assert records.counts("t2")["succeeded"] == 0


def test_finished_jobs_only_go_back_to_the_queue_or_are_erased_and_erased_ones_never_move():
    for status in TERMINAL - {JobStatus.DELETED}:
        assert ALLOWED[status] == {JobStatus.QUEUED, JobStatus.SCHEDULED, JobStatus.DELETED}
    assert ALLOWED[JobStatus.DELETED] == set()


def test_an_illegal_transition_is_a_conflict(records):
    job = records.transition(new_job(records), JobStatus.PROCESSING)
    job = records.transition(job, JobStatus.SUCCEEDED)
    with pytest.raises(Conflict):
        records.transition(job, JobStatus.FAILED)


def test_a_stale_copy_is_rechecked_against_the_stored_record(records):
    job = new_job(records)
    stale = job
    records.transition(job, JobStatus.CANCELED)
    # The stale copy still says queued, but the record says canceled: processing is refused.
    with pytest.raises(Conflict):
        records.transition(stale, JobStatus.PROCESSING)


def test_with_expect_only_one_of_two_racers_wins(records):
    job = new_job(records, JobStatus.AWAITING_UPLOAD)
    records.transition(job, JobStatus.QUEUED, expect=JobStatus.AWAITING_UPLOAD)
    with pytest.raises(Conflict):
        records.transition(job, JobStatus.QUEUED, expect=JobStatus.AWAITING_UPLOAD)


def test_open_jobs_are_counted_until_they_end_and_again_when_reopened(records):
    job = new_job(records)
    assert records.live.open_jobs("t1") == [job.id]
    assert records.in_flight("t1") == 1
    job = records.transition(job, JobStatus.CANCELED)
    assert records.in_flight("t1") == 0
    assert list(records.reopened()) == []
    job = records.transition(job, JobStatus.QUEUED)
    assert records.in_flight("t1") == 1
    # Its id's time is old: while it is open, a marker lists it for recovery.
    assert list(records.reopened()) == [("t1", job.id)]
    records.transition(records.transition(job, JobStatus.PROCESSING), JobStatus.SUCCEEDED)
    assert list(records.reopened()) == []


def test_a_run_writes_the_record_twice_its_start_lives_in_the_state_store(records):
    job = new_job(records)
    created = records.stored(job.id, "t1")
    job = records.transition(job, JobStatus.PROCESSING, worker="w1", pages_done=0)
    assert records.stored(job.id, "t1").etag == created.etag  # not written again
    assert records.get(job.id, "t1").status is JobStatus.PROCESSING  # the live copy says so
    job = records.transition(job, JobStatus.SUCCEEDED, pages_done=1)
    stored = records.stored(job.id, "t1")
    assert (stored.status, stored.rev, stored.worker) == (JobStatus.SUCCEEDED, 2, "w1")


def test_a_job_reads_from_storage_when_the_state_store_lost_its_copy(records, services):
    job = records.transition(new_job(records), JobStatus.PROCESSING)
    services.state.delete(keys.live_key(job.id))
    # The last durable status: the run is found again and re-run by recovery.
    assert records.get(job.id, "t1").status is JobStatus.QUEUED


def test_an_older_copy_never_replaces_a_newer_one(records):
    job = new_job(records)
    ended = records.transition(job, JobStatus.CANCELED)
    assert not records.live.fill(job)  # a reader's copy of revision 1 comes late
    assert not records.live.put(job)
    assert records.get(job.id, "t1").status is JobStatus.CANCELED
    assert records.live.get(job.id).rev == ended.rev


def test_a_transient_move_on_a_stale_copy_is_rechecked(records):
    job = new_job(records)
    records.transition(job, JobStatus.CANCELED)
    with pytest.raises(Conflict):  # the copy says queued; the job is canceled
        records.transition(job, JobStatus.PROCESSING)


def test_listing_scans_every_record_or_one_tenants(records):
    first, second = new_job(records), new_job(records)
    other = records.create(
        job_id=keys.new_job_id(), tenant="t2", filename="b.pdf", size=1, status=JobStatus.QUEUED
    )
    assert set(records.listed("t1")) == {("t1", first.id), ("t1", second.id)}
    assert ("t2", other.id) in set(records.listed())


def test_a_deleted_job_is_gone_and_uncounted(records):
    job = new_job(records)
    records.delete(job)
    with pytest.raises(NotFound):
        records.get(job.id, "t1")
    assert records.counts()["queued"] == 0
    assert records.in_flight("t1") == 0
