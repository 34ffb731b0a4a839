"""`flask pdf jobs | delete | reindex` (functions/cli/browse.py), and `failed` reading the
job index rather than every record, in-process (immediate queue, moto)."""

import json

from core import exitcodes, keys
from core.errors import Corrupt
from core.jobs.model import JobStatus
from tests.support.jobs import moved, recorded_job, stored_bytes
from tests.support.requests_count import counted


def failed_job(services, tenant: str):
    job = moved(services, stored_bytes(services, b"%PDF-1.4", tenant), JobStatus.PROCESSING)
    return moved(services, job, JobStatus.FAILED, error=Corrupt("broken").to_dict())


def test_failed_reads_only_the_failed_jobs_whatever_the_history(pdf, services, monkeypatch):
    for _ in range(30):
        moved(services, recorded_job(services, "acme"), JobStatus.CANCELED)
    newest = [failed_job(services, "acme").id, failed_job(services, "globex").id][::-1]
    with counted(services, monkeypatch) as calls:
        result = pdf("failed", "--since", "1h")
    assert result.exit_code == 0, result.output
    assert [line.split("\t")[1] for line in result.stdout.splitlines()] == newest
    assert "pdf: 2 failed since 1h" in result.stderr
    # The tenants, then one listing each; the two failed jobs come from the state store.
    assert calls["GetObject"] == 0
    assert calls["ListObjectsV2"] == 3


def test_reprocess_status_finds_the_jobs_through_the_index(pdf, services, held):
    jobs = [failed_job(services, tenant).id for tenant in ("acme", "globex")]
    result = pdf("reprocess", "--status", "failed", "--json")
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert sorted(row["job_id"] for row in rows) == sorted(jobs)
    assert {row["status"] for row in rows} == {"queued"}


def test_jobs_lists_a_tenants_jobs_newest_first(pdf, services):
    older = recorded_job(services, "acme")
    newer = failed_job(services, "acme")
    recorded_job(services, "globex")
    result = pdf("jobs", "--tenant", "acme")
    assert result.exit_code == 0, result.output
    rows = [line.split("\t") for line in result.stdout.splitlines()]
    assert [(row[1], row[2]) for row in rows] == [("failed", newer.id), ("queued", older.id)]
    assert rows[0][4] == "corrupt: broken"
    only = pdf("jobs", "--tenant", "acme", "--status", "queued", "--json")
    assert [json.loads(line)["id"] for line in only.stdout.splitlines()] == [older.id]
    assert "more: raise --limit" in pdf("jobs", "--tenant", "acme", "--limit", "1").stderr


def test_delete_erases_and_says_so_again_and_exits_4_for_unknown_ids(pdf, services):
    job = failed_job(services, "public")
    first = pdf("delete", job.id)
    assert first.exit_code == 0, first.output
    assert first.stdout.startswith(f"deleted\t{job.id}\t")
    assert pdf("delete", job.id).stdout.startswith(f"already_deleted\t{job.id}\t")
    unknown = pdf("delete", "f" * 32)
    assert unknown.exit_code == exitcodes.NOT_FOUND
    assert pdf("status", job.id).exit_code == exitcodes.NOT_FOUND


def test_reindex_rebuilds_the_index_from_the_records(pdf, services):
    job = failed_job(services, "acme")
    for key in list(services.storage.list_keys(keys.INDEX_PREFIX)):
        services.storage.delete(key)
    assert pdf("jobs", "--tenant", "acme", "--status", "failed").stdout == ""
    result = pdf("reindex")
    assert result.exit_code == 0, result.output
    assert "records: 1, entries added: 1" in result.stdout
    listed = pdf("jobs", "--tenant", "acme", "--status", "failed").stdout
    assert listed.split("\t")[2] == job.id
