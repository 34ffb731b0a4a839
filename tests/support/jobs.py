"""Jobs put in a state for a test, as if earlier moves had happened: a stored PDF with its
record and no task on the queue yet, or a record moved straight to a status; and a job's
stored results read back."""

from __future__ import annotations

import json
from pathlib import Path

from core import keys
from core.clock import utc_after
from core.jobs import results
from core.jobs.model import Job, JobStatus
from core.services import Services


def stored_job(services: Services, path: Path, tenant: str = "public", **fields) -> Job:
    """The PDF at `path` stored at a new job's source key, and its record, queued; no task is
    enqueued (the test runs the pipeline itself)."""
    return stored_bytes(services, path.read_bytes(), tenant, filename=path.name, **fields)


def stored_bytes(
    services: Services, data: bytes, tenant: str = "public", filename: str = "x.pdf", **fields
) -> Job:
    """`data` stored as a new job's source, and its queued record (no task enqueued)."""
    job_id = keys.new_job_id()
    services.storage.put_bytes(keys.source_key(tenant, job_id), data)
    return recorded_job(
        services, tenant, job_id=job_id, filename=filename, size=len(data), **fields
    )


def recorded_job(services: Services, tenant: str = "public", **fields) -> Job:
    """A job's record alone (queued unless `status` says otherwise): no PDF, no task."""
    values = {"job_id": keys.new_job_id(), "filename": "x.pdf", "size": 1}
    values.update({"status": JobStatus.QUEUED, **fields})
    return services.records.create(tenant=tenant, **values)


def moved(services: Services, job: Job, status: JobStatus, **changes) -> Job:
    """The job's stored record written in `status` with `changes` (the legal-move table still
    applies), to set up the state a test starts from."""
    records = services.records
    return records.transition(records.get(job.id, job.tenant), status, **changes)


def wiped(services: Services):
    """The state store loses every key, as a Redis flushed or restarted without its data."""
    state = services.state
    if hasattr(state, "_conn"):
        state._conn.flushdb()
    else:
        state._db.execute("delete from state")
        state._db.execute("delete from members")


def lease_missing_for_a_while(services: Services, job: Job):
    """As if recovery had found the job's lease missing a whole lease period ago."""
    when = utc_after(-services.settings.lease_seconds - 1)
    services.state.set(keys.missing_lease_key(job.id), when, 600)


def expire_result(services: Services, job_id: str, tenant: str = "public"):
    """Every result object of the job removed, as the retention rule removes them."""
    for key in list(services.storage.list_keys(keys.results_prefix(tenant, job_id))):
        services.storage.delete(key)


def result_text(services: Services, job: Job) -> str:
    """The job's stored result as `?format=text` gives it."""
    return b"".join(_chunks(services, job, "text")).decode()


def result_pages(services: Services, job: Job) -> list[dict]:
    """The job's stored pages, one dict a page, as `?format=pages` gives them."""
    raw = b"".join(_chunks(services, job, "pages"))
    return [json.loads(line) for line in raw.splitlines()]


def result_summary(services: Services, job: Job) -> dict:
    """The first line of the job's result object: the document's summary."""
    current = services.records.get(job.id, job.tenant)
    summary, _ = results.read(services.storage, current.result["key"])
    return summary


def _chunks(services: Services, job: Job, fmt: str):
    current = services.records.get(job.id, job.tenant)
    return results.chunks(services.storage, current, fmt, 0)
