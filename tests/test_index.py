"""The job index (core/jobs/index.py, core/jobs/reindex.py): kept in step by every record
write, and rebuilt from the records by recovery when it was never built."""

import json

import pytest

from consumer.recovery import reconcile
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


def test_a_new_job_is_listed_among_all_and_in_its_status(services):
    job = recorded_job(services, "t1")
    assert entries(services) == {
        keys.index_key("t1", None, index.millis(job.created_at), job.id),
        keys.index_key("t1", "queued", index.millis(job.created_at), job.id),
    }


def test_a_move_relists_the_job_in_its_new_status_only(services):
    job = moved(services, recorded_job(services, "t1"), JobStatus.PROCESSING)
    assert entries(services) == {index.created_key(job), index.status_key(job)}
    assert "/status/processing/" in index.status_key(job)
    assert listed(services, "queued") == []
    assert listed(services, "processing") == [job.id]


def test_a_write_that_loses_its_race_leaves_no_entry(services):
    job = recorded_job(services, "t1")
    services.records.transition(job, JobStatus.CANCELED)
    with pytest.raises(Conflict):  # the stale copy's move is re-checked and refused
        services.records.transition(job, JobStatus.PROCESSING)
    assert listed(services, "processing") == []
    assert not any("/processing/" in key for key in entries(services))


def test_a_discarded_job_leaves_the_index(services):
    job = recorded_job(services, "t1")
    services.records.delete(job)
    assert entries(services) == set()


def test_rebuild_restores_missing_entries_and_removes_stale_ones(services):
    kept = moved(services, recorded_job(services, "t1"), JobStatus.FAILED)
    other = recorded_job(services, "t2")
    for key in entries(services, "t1"):
        services.storage.delete(key)  # the index lost (or never had) these
    stale = keys.index_key("t2", "succeeded", 1, other.id)
    services.records.index.add(stale)  # a move's old entry that a crash left behind
    rebuilt = reindex.rebuild(services.records, grace_seconds=0)
    assert (rebuilt.records, rebuilt.added, rebuilt.removed) == (2, 2, 1)
    assert entries(services, "t1") == index.expected_keys(kept)
    assert entries(services, "t2") == index.expected_keys(other)
    assert listed(services, "failed") == [kept.id]
    assert not reindex.needed(services.records)


def test_rebuild_keeps_an_entry_younger_than_the_grace(services):
    job = recorded_job(services, "t1")
    young = keys.index_key("t1", "processing", index.millis(job.created_at) + 5, job.id)
    services.records.index.add(young)  # a move in progress: entry written, record not yet
    reindex.rebuild(services.records, grace_seconds=3600)
    assert young in entries(services)


def test_records_older_than_the_index_are_listed_once_rebuilt(services):
    job = moved(services, recorded_job(services, "t1"), JobStatus.PROCESSING)
    job = moved(services, job, JobStatus.SUCCEEDED)
    key = keys.record_key("t1", job.id)
    record, _ = services.storage.get_json(key)
    del record["status_changed_at"]  # as records written before the index have it
    services.storage.put_bytes(key, json.dumps(record).encode())
    for entry in entries(services):
        services.storage.delete(entry)
    reindex.rebuild(services.records, grace_seconds=0)
    assert listed(services, "succeeded") == [job.id]
    assert listed(services) == [job.id]
    # The next move removes the entry the rebuild derived (from finished_at) and lists anew.
    again = moved(services, services.records.get(job.id, "t1"), JobStatus.QUEUED)
    assert entries(services) == index.expected_keys(again)


def test_recovery_rebuilds_the_index_once_when_it_was_never_built(services):
    job = recorded_job(services, "t1")
    services.storage.delete(index.status_key(job))
    assert reindex.needed(services.records)
    first = reconcile(services)
    assert first.reindexed == 1
    assert listed(services, "queued") == [job.id]
    assert reconcile(services).reindexed == 0  # built: later passes leave it alone


def test_a_create_that_finds_the_job_there_already_leaves_its_entries_alone(services):
    job = recorded_job(services, "t1")
    with pytest.raises(WriteConflict):  # a repeated event names the same job id
        recorded_job(services, "t1", job_id=job.id)
    assert entries(services) == index.expected_keys(job)
