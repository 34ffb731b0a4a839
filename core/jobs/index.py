"""The job index: each tenant's jobs listed newest first, as empty objects in storage.

S3 lists keys in ascending order, one request per thousand, from any point (`StartAfter`).
A key whose time counts down (core/keys.py `index_key`) therefore lists newest first, and a
page costs one listing request however many jobs the tenant ever had. Two lists per tenant:

    index/<tenant>/all/<reversed created_at>-<job>              every job, by creation
    index/<tenant>/status/<status>/<reversed time>-<job>        by when it entered the status

The entries are written with the record (core/jobs/records.py): the new status's entry
before the record write, the old one removed after it, as the `active/` markers are. So a
record is never missing from the list of its status; a crash between the two writes leaves an
extra entry, which readers recognise (its record disagrees: `shows`) and skip, and which
`rebuild` (recovery) removes. The index lives beside the records in storage, not in Redis:
it is as durable as what it lists, needs no TTL, and survives a flushed Redis.
"""

from __future__ import annotations

import contextlib
import dataclasses

from core import keys
from core.adapters.storage import Storage
from core.clock import parse_time
from core.errors import PdfqError
from core.jobs.model import Job, JobStatus


@dataclasses.dataclass(frozen=True)
class Entry:
    """One listed job: where it sits (its key) and what it says."""

    key: str
    tenant: str
    status: str | None  # None: the list of all jobs
    at_ms: int
    job_id: str

    @classmethod
    def parse(cls, key: str) -> Entry:
        return cls(key, *keys.parse_index_key(key))


def millis(timestamp: str) -> int:
    """A record's timestamp as whole milliseconds since 1970 (what index keys count)."""
    return round(parse_time(timestamp).timestamp() * 1000)


def entered_at(job: Job) -> str:
    """When the job entered its status; records older than the index have no such field,
    so it is read from the time stamped for that status."""
    if job.status_changed_at:
        return job.status_changed_at
    stamped = {
        JobStatus.AWAITING_UPLOAD: job.created_at,
        JobStatus.QUEUED: job.queued_at,
        JobStatus.PROCESSING: job.started_at,
    }.get(job.status, job.finished_at if job.status.terminal else None)
    return stamped or job.updated_at


def status_key(job: Job) -> str:
    return keys.index_key(job.tenant, job.status.value, millis(entered_at(job)), job.id)


def created_key(job: Job) -> str:
    return keys.index_key(job.tenant, None, millis(job.created_at), job.id)


def expected_keys(job: Job) -> set[str]:
    """Every entry the job should have: its status's, and (unless erased) the list of all."""
    if job.status is JobStatus.DELETED:
        return {status_key(job)}
    return {created_key(job), status_key(job)}


def shows(entry: Entry, job: Job) -> bool:
    """The entry lists the job as its record stands (a stale or half-written one does not)."""
    return entry.key in expected_keys(job)


class JobIndex:
    """The writes that keep the index in step with the records; JobRecords calls them."""

    def __init__(self, storage: Storage):
        self.storage = storage

    def add(self, *keys_: str):
        for key in keys_:
            self.storage.put_bytes(key, b"")

    def remove(self, *keys_: str):
        """Drop entries; one that stays is skipped by readers and removed by `rebuild`."""
        for key in keys_:
            with contextlib.suppress(PdfqError):
                self.storage.delete(key)

    def entries(self, prefix: str, *, after: str | None, limit: int) -> tuple[list[Entry], bool]:
        """Up to `limit` entries under `prefix` after the key `after`, and whether more follow:
        one listing request."""
        listed, truncated = self.storage.list_page(prefix, start_after=after, limit=limit)
        found = []
        for item in listed:
            with contextlib.suppress(ValueError):  # not an entry: not pdfq's
                found.append(Entry.parse(item["Key"]))
        return found, truncated

    def tenants(self) -> list[str]:
        """Every tenant with a listed job."""
        return self.storage.list_folders(keys.INDEX_PREFIX)
