"""Pages of a tenant's jobs, newest first, read from the job index (core/jobs/index.py).

A page costs one listing request and one record read per job on it, whatever the tenant's
history: the listing starts after the cursor's key and stops at `since` or the page's size.
Entries a crash left behind (their record says otherwise) are skipped, and the listing goes
on until the page is full. The cursor is opaque to clients: the last key read (within the
tenant's prefix, so it cannot reach another tenant's list) and the `since` it was read with.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import heapq
import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

from core import keys
from core.errors import BadRequest, NotFound
from core.jobs import index
from core.jobs.index import Entry
from core.jobs.model import Job, JobStatus
from core.jobs.records import JobRecords

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
_READERS = 8  # records read in parallel for one page


@dataclasses.dataclass(frozen=True)
class Query:
    """Which jobs: one tenant's, all or those in `status`, entered since `since_ms`."""

    tenant: str
    status: JobStatus | None = None
    since_ms: int | None = None

    @property
    def prefix(self) -> str:
        return keys.index_prefix(self.tenant, self.status.value if self.status else None)

    def within(self, entry: Entry) -> bool:
        return self.since_ms is None or entry.at_ms >= self.since_ms


@dataclasses.dataclass(frozen=True)
class Page:
    jobs: list[Job]
    after: str | None  # the index key the next page starts after; None on the last page


def page(records: JobRecords, query: Query, *, limit: int, after: str | None = None) -> Page:
    """Up to `limit` jobs after the index key `after`, newest first, and the next cursor."""
    jobs: list[Job] = []
    while True:
        wanted = limit - len(jobs)
        entries, more = _entries(records, query, after, wanted)
        jobs += read(records, entries)
        after = entries[-1].key if entries else after
        if not more:
            return Page(jobs, None)
        if len(jobs) >= limit:
            return Page(jobs, after)


def _entries(
    records: JobRecords, query: Query, after: str | None, wanted: int
) -> tuple[list[Entry], bool]:
    """The next `wanted` entries within `since`, and whether more follow (one listing)."""
    listed, truncated = records.index.entries(query.prefix, after=after, limit=wanted + 1)
    within = [entry for entry in listed if query.within(entry)]
    more = len(within) > wanted or (truncated and len(within) == len(listed))
    return within[:wanted], more


def read(records: JobRecords, entries: list[Entry]) -> list[Job]:
    """The records the entries list, in their order, without the ones a crash left stale."""

    def record(entry: Entry) -> Job | None:
        try:
            job = records.get(entry.job_id, entry.tenant, tombstone=True)
        except NotFound:
            return None  # an entry written before a record write that never happened
        return job if index.shows(entry, job) else None

    if not entries:
        return []
    with ThreadPoolExecutor(max_workers=min(_READERS, len(entries))) as pool:
        return [job for job in pool.map(record, entries) if job is not None]


def every(records: JobRecords, query: Query, batch: int = 500) -> Iterator[Job]:
    """Every job the query finds, page after page (the CLI's bulk commands)."""
    after = None
    while True:
        found = page(records, query, limit=batch, after=after)
        yield from found.jobs
        if found.after is None:
            return
        after = found.after


def newest_across_tenants(
    records: JobRecords, status: JobStatus | None, since_ms: int | None, limit: int
) -> list[Job]:
    """The newest `limit` jobs of every tenant together: each tenant's newest entries are
    listed, merged by time, and only the `limit` newest are read."""
    lists = []
    for tenant in records.index.tenants():
        query = Query(tenant, status, since_ms)
        entries, _ = _entries(records, query, None, limit)
        lists.append(entries)
    merged = heapq.merge(*lists, key=lambda entry: (-entry.at_ms, entry.job_id))
    return read(records, list(merged)[:limit])


# --- the cursor clients hand back ---


def encode_cursor(after: str, since_ms: int | None) -> str:
    raw = json.dumps({"after": after, "since": since_ms}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, query: Query) -> tuple[str, int | None]:
    """(key to start after, since) of a cursor this listing gave out; BadRequest otherwise,
    also for a cursor of another listing (another status, another tenant)."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        found = json.loads(raw)
        after, since = found["after"], found["since"]
        valid = isinstance(after, str) and (since is None or type(since) is int)
        # Only an index key of this listing: anything else (a lone surrogate, a NUL, other
        # scripts' digits) would reach the store as a key to start after.
        valid = valid and after.isascii() and bool(keys.parse_index_key(after))
    except (binascii.Error, ValueError, KeyError, TypeError):
        valid = False
    if not valid or not after.startswith(query.prefix):
        raise BadRequest(
            "This cursor is not one this listing gave out: pass `next_cursor` from the "
            "previous page unchanged, with the same `status`."
        )
    return after, since
