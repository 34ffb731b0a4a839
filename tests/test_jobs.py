import pytest

from core import keys, services
from core.errors import Conflict, Corrupt, NotFound
from core.jobs import ALLOWED, TERMINAL, Job, JobStatus


@pytest.fixture
def store(s3):
    return services.jobs()


def new_job(store, status=JobStatus.QUEUED) -> Job:
    return store.create(
        job_id=keys.new_job_id(), tenant="t1", filename="a.pdf", size=10, status=status
    )


def test_a_created_job_is_durable_in_storage(store):
    job = new_job(store)
    again = store.get(job.id, "t1")
    assert again.status is JobStatus.QUEUED
    assert again.source_key == f"sources/t1/{job.id}.pdf"
    assert again.queued_at == job.created_at


@pytest.mark.parametrize("job_id", ["nope", "../../etc/passwd", "A" * 32])
def test_unknown_or_malformed_ids_are_not_found(store, job_id):
    with pytest.raises(NotFound):
        store.get(job_id, "t1")


def test_another_tenant_does_not_see_the_job(store):
    job = new_job(store)
    with pytest.raises(NotFound):
        store.get(job.id, "t2")


def test_transitions_stamp_times_and_count_statuses(store):
    job = new_job(store)
    job = store.transition(job, JobStatus.PROCESSING)
    assert job.started_at
    job = store.transition(job, JobStatus.SUCCEEDED, pages_total=3, pages_done=3)
    assert job.finished_at
    assert store.get(job.id, "t1").pages_total == 3
    counts = store.counts()
    assert counts["succeeded"] == 1
    assert counts["queued"] == 0
    assert counts["processing"] == 0


def test_terminal_jobs_only_go_back_to_the_queue():
    for status in TERMINAL:
        assert ALLOWED[status] == {JobStatus.QUEUED, JobStatus.SCHEDULED}


def test_an_illegal_transition_is_a_conflict(store):
    job = store.transition(new_job(store), JobStatus.PROCESSING)
    job = store.transition(job, JobStatus.SUCCEEDED)
    with pytest.raises(Conflict):
        store.transition(job, JobStatus.FAILED)


def test_a_stale_copy_is_rechecked_against_the_stored_record(store):
    job = new_job(store)
    stale = job
    store.transition(job, JobStatus.CANCELED)
    # The stale copy still says queued, but the record says canceled: processing is refused.
    with pytest.raises(Conflict):
        store.transition(stale, JobStatus.PROCESSING)


def test_fail_records_the_code_and_the_attempt(store):
    job = store.transition(new_job(store), JobStatus.PROCESSING)
    failed = store.fail(job, Corrupt("bad xref"), worker="w1")
    assert failed.status is JobStatus.FAILED
    assert failed.error == {"code": "corrupt", "message": "bad xref"}
    assert failed.attempts[-1]["worker"] == "w1"
    assert failed.attempts[-1]["outcome"] == "corrupt"


def test_progress_is_live_while_processing_and_final_after(store):
    job = store.transition(new_job(store), JobStatus.PROCESSING)
    store.set_progress(job.id, 2, 5)
    assert store.progress(job) == (2, 5)
    job = store.transition(job, JobStatus.SUCCEEDED, pages_done=5, pages_total=5)
    assert store.progress(job) == (5, 5)
