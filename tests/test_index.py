"""The index of failed, canceled and erased jobs (core/jobs/index.py, core/jobs/reindex.py):
kept in step by every record write, and rebuilt from the records on demand; every other
listing comes from the records themselves, newest first by their ids."""

import pytest

from core import keys
from core.errors import Conflict, WriteConflict
from core.jobs import index, listing, reindex
from core.jobs.model import JobStatus
from tests.support.jobs import moved, recorded_job


def entries(services, tenant="t1") -> set[str]:
    return set(services.storage.list_keys(f"{keys.INDEX_PREFIX}{tenant}/"))


def listed(services, status=None, tenant="t1") -> list[str]:
    query = listing.Query(tenant, JobStatus(status) if status else None)
    return [job.id for job in listing.page(services.records, query, limit=200).jobs]


def test_a_new_job_writes_no_entry_and_is_listed_by_its_record(services):
    job = recorded_job(services, "t1")
    assert entries(services) == set()
    assert listed(services) == [job.id]
    assert listed(services, "queued") == [job.id]


def test_jobs_list_newest_first_by_their_ids(services):
    made = [recorded_job(services, "t1", job_id=keys.new_job_id(at_ms=1000 * n)) for n in (1, 3, 2)]
    assert listed(services) == [made[1].id, made[2].id, made[0].id]


def test_a_failed_job_is_listed_in_its_status_by_when_it_failed(services):
    job = moved(services, recorded_job(services, "t1"), JobStatus.FAILED)
    assert entries(services) == {index.status_key(job)}
    assert "/status/failed/" in index.status_key(job)
    assert listed(services, "failed") == [job.id]
    again = moved(services, job, JobStatus.QUEUED)  # a re-run leaves the list of failures
    assert entries(services) == set()
    assert listed(services, "failed") == []
    assert listed(services, "queued") == [again.id]


def test_a_write_that_loses_its_race_leaves_no_entry(services):
    job = recorded_job(services, "t1")
    services.records.transition(job, JobStatus.CANCELED)
    with pytest.raises(Conflict):  # the stale copy's move is re-checked and refused
        services.records.transition(job, JobStatus.FAILED)
    assert listed(services, "failed") == []
    assert not any("/failed/" in key for key in entries(services))


def test_rebuild_restores_missing_entries_and_removes_stale_ones(services):
    kept = moved(services, recorded_job(services, "t1"), JobStatus.FAILED)
    other = recorded_job(services, "t2")
    for key in entries(services, "t1"):
        services.storage.delete(key)  # the index lost (or never had) these
    stale = keys.index_key("t2", "failed", 1, other.id)
    services.records.index.add(stale)  # a move's old entry that a crash left behind
    rebuilt = reindex.rebuild(services.records, grace_seconds=0)
    assert (rebuilt.records, rebuilt.added, rebuilt.removed) == (2, 1, 1)
    assert entries(services, "t1") == index.expected_keys(kept)
    assert entries(services, "t2") == set()
    assert listed(services, "failed") == [kept.id]


def test_rebuild_keeps_an_entry_younger_than_the_grace(services):
    job = recorded_job(services, "t1")
    young = keys.index_key("t1", "canceled", index.millis(job.created_at) + 5, job.id)
    services.records.index.add(young)  # a move in progress: entry written, record not yet
    reindex.rebuild(services.records, grace_seconds=3600)
    assert young in entries(services)


def test_a_create_that_finds_the_job_there_already_leaves_it_alone(services):
    job = recorded_job(services, "t1")
    with pytest.raises(WriteConflict):  # a repeated event names the same job id
        recorded_job(services, "t1", job_id=job.id)
    assert listed(services) == [job.id]
