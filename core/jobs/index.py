"""The index of failed, canceled and erased jobs, by when they entered that status: empty
objects in storage, one per job and status.

A tenant's records list newest first by themselves (job ids count time down: core/keys.py),
so the list of all jobs, and of those in any other status, is a listing of the records. The
rarer statuses are listed here too, by when the job entered them, so `?status=failed` is
"failed lately", however old the job, at the cost of one listing request a page:

    index/<tenant>/status/<status>/<reversed time>-<job>

The entry is written before the record that puts the job in that status, and removed after
the record that takes it out (core/jobs/records.py). So a record is never missing from the
list of its status; a crash between the two writes leaves an extra entry, which readers
recognise (its record disagrees: `shows`) and skip, and which `flask pdf reindex` removes.
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
    status: str
    at_ms: int
    job_id: str

    @classmethod
    def parse(cls, key: str) -> Entry:
        return cls(key, *keys.parse_index_key(key))


def millis(timestamp: str) -> int:
    """A record's timestamp as whole milliseconds since 1970 (what index keys count)."""
    return round(parse_time(timestamp).timestamp() * 1000)


def entered_at(job: Job) -> str:
    """When the job entered its status."""
    return job.status_changed_at or job.updated_at


INDEXED = frozenset({JobStatus.FAILED, JobStatus.CANCELED, JobStatus.DELETED})


def status_key(job: Job) -> str | None:
    """The job's entry in the list of its status, when that status is listed here."""
    if job.status not in INDEXED:
        return None
    return keys.index_key(job.tenant, job.status.value, millis(entered_at(job)), job.id)


def expected_keys(job: Job) -> set[str]:
    """Every entry the job should have: none, or its status's."""
    key = status_key(job)
    return {key} if key else set()


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
