"""Pages of a tenant's jobs, newest first: GET /jobs and the CLI.

Where a page comes from depends on what it lists:

- every job, or the succeeded ones: the tenant's records, which list newest first by
  themselves (job ids count time down, core/keys.py): one listing request, then each job as
  it is now (its live copy, or its record); every job also takes in the tenant's open jobs
  (the state store's set, in the same order), for the uploads whose objects will carry
  their records (core/jobs/carried.py) and have none yet. Erased jobs are left out, and
  with `succeeded` the others too, so a page may need a few listings: at most SCAN_LISTINGS,
  after which it comes back short, with the cursor to go on;
- failed, canceled or erased (`deleted`) jobs: the index of those statuses
  (core/jobs/index.py), by when each entered it, so "failed since" finds an old job that
  failed lately; an entry a crash left behind (its job says otherwise) is skipped;
- open jobs (awaiting_upload, queued, scheduled, processing): the tenant's set of open jobs
  in the state store, newest first; it is bounded by the jobs a tenant may have in flight.

`since` is a time in milliseconds: jobs created since then, or, for the indexed statuses,
that entered the status since then. The cursor is opaque to clients: the last id (or index
key) read and the `since` it was read with; it must name a place in the caller's own
listing, so it cannot reach another tenant's.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import heapq
import json
from collections.abc import Iterator

from core import keys
from core.errors import BadRequest
from core.jobs import index
from core.jobs.index import INDEXED, Entry
from core.jobs.model import Job, JobStatus
from core.jobs.records import JobRecords

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
SCAN_LISTINGS = 10  # listings one page may read before it comes back short
MAX_CURSOR_CHARS = 512


@dataclasses.dataclass(frozen=True)
class Query:
    """Which jobs: one tenant's, all or those in `status`, since `since_ms`."""

    tenant: str
    status: JobStatus | None = None
    since_ms: int | None = None

    @property
    def indexed(self) -> bool:
        return self.status in INDEXED

    @property
    def open(self) -> bool:
        return self.status is not None and not self.status.terminal

    def shows(self, job: Job) -> bool:
        """Whether the job belongs on this listing (erased ones only on theirs)."""
        if self.status is None:
            return job.status is not JobStatus.DELETED
        return job.status is self.status


@dataclasses.dataclass(frozen=True)
class Page:
    jobs: list[Job]
    after: str | None  # where the next page starts (after this id or key); None on the last


def page(records: JobRecords, query: Query, *, limit: int, after: str | None = None) -> Page:
    """Up to `limit` jobs after `after`, newest first, and where the next page starts."""
    if query.indexed:
        return _indexed(records, query, limit, after)
    if query.open:
        return _open(records, query, limit, after)
    return _by_creation(records, query, limit, after)


def _by_creation(records: JobRecords, query: Query, limit: int, after: str | None) -> Page:
    jobs: list[Job] = []
    for _ in range(SCAN_LISTINGS):
        want = limit - len(jobs) + 1
        ids, more = records.page(query.tenant, after=after, limit=want)
        if query.status is None:  # and the uploads whose objects carry their jobs, unwritten
            carried = records.live.open_jobs(query.tenant, after=after, limit=want)
            more = more or len(carried) == want
            ids = sorted(set(ids) | set(carried))
            more = more or len(ids) > want
            ids = ids[:want]
        within = [i for i in ids if _created_since(i, query)]
        if len(within) < len(ids):
            more = False  # the rest are older than `since`
        taken = within[: limit - len(jobs)]
        jobs += [job for job in records.many(query.tenant, taken) if query.shows(job)]
        after = taken[-1] if taken else after
        more = more or len(within) > len(taken)
        if not more:
            return Page(jobs, None)
        if len(jobs) >= limit:
            return Page(jobs, after)
    return Page(jobs, after)


def _open(records: JobRecords, query: Query, limit: int, after: str | None) -> Page:
    jobs: list[Job] = []
    for _ in range(SCAN_LISTINGS):
        ids = records.live.open_jobs(query.tenant, after=after, limit=limit + 1)
        more = len(ids) > limit
        within = [i for i in ids[:limit] if _created_since(i, query)]
        more = more and len(within) == limit
        jobs += [job for job in records.many(query.tenant, within) if query.shows(job)]
        after = within[-1] if within else after
        if not more:
            return Page(jobs[:limit], None)
        if len(jobs) >= limit:
            return Page(jobs[:limit], after)
    return Page(jobs, after)


def _created_since(job_id: str, query: Query) -> bool:
    return query.since_ms is None or keys.job_id_ms(job_id) >= query.since_ms


def _indexed(records: JobRecords, query: Query, limit: int, after: str | None) -> Page:
    jobs: list[Job] = []
    for _ in range(SCAN_LISTINGS):
        wanted = limit - len(jobs)
        entries, more = _entries(records, query, after, wanted)
        jobs += read(records, entries)
        after = entries[-1].key if entries else after
        if not more:
            return Page(jobs, None)
        if len(jobs) >= limit:
            return Page(jobs, after)
    return Page(jobs, after)


def _entries(
    records: JobRecords, query: Query, after: str | None, wanted: int
) -> tuple[list[Entry], bool]:
    """The next `wanted` index entries within `since`, and whether more follow (one listing)."""
    prefix = keys.index_prefix(query.tenant, query.status.value)
    listed, truncated = records.index.entries(prefix, after=after, limit=wanted + 1)
    within = [e for e in listed if query.since_ms is None or e.at_ms >= query.since_ms]
    more = len(within) > wanted or (truncated and len(within) == len(listed))
    return within[:wanted], more


def read(records: JobRecords, entries: list[Entry]) -> list[Job]:
    """The jobs the entries list, in their order, without the ones a crash left stale."""
    if not entries:
        return []
    found = {job.id: job for job in records.many(entries[0].tenant, [e.job_id for e in entries])}
    return [
        found[e.job_id] for e in entries if e.job_id in found and index.shows(e, found[e.job_id])
    ]


def every(records: JobRecords, query: Query, batch: int = 200) -> Iterator[Job]:
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
    """The newest `limit` jobs of every tenant together, in the order their listing keeps
    (by when they entered the status for the indexed ones, else by creation)."""
    lists = []
    for tenant in records.tenants():
        jobs = page(records, Query(tenant, status, since_ms), limit=limit).jobs
        lists.append([(_order(job, status), job.id, job) for job in jobs])
    merged = heapq.merge(*lists)
    return [job for _, _, job in list(merged)[:limit]]


def _order(job: Job, status: JobStatus | None) -> int:
    if status in INDEXED:
        return -index.millis(index.entered_at(job))
    return -keys.job_id_ms(job.id)


# --- the cursor clients hand back ---


def encode_cursor(after: str, query: Query) -> str:
    """The cursor of the page after `after` in the listing `query` names."""
    raw = json.dumps(
        {
            "after": after,
            "since": query.since_ms,
            "tenant": query.tenant,
            "status": query.status.value if query.status else None,
        },
        separators=(",", ":"),
    ).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, query: Query) -> tuple[str, int | None]:
    """(where to start after, since) of a cursor this listing gave out; BadRequest otherwise,
    also for a cursor of another listing (another status, another tenant)."""
    try:
        if len(cursor) > MAX_CURSOR_CHARS:
            raise ValueError(cursor)
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        found = json.loads(raw)
        after, since = found["after"], found["since"]
        status = query.status.value if query.status else None
        valid = (
            isinstance(after, str)
            and (since is None or type(since) is int)
            and found["tenant"] == query.tenant
            and found["status"] == status
            and _belongs(after, query)
        )
    except (binascii.Error, ValueError, KeyError, TypeError, AttributeError):
        valid = False
    if not valid:
        raise BadRequest(
            "This cursor is not one this listing gave out: pass `next_cursor` from the "
            "previous page unchanged, with the same `status`."
        )
    return after, since


def _belongs(after: str, query: Query) -> bool:
    """`after` is a place in this tenant's listing: a job id, or an index key of its own
    (matched whole and ASCII only: anything else, a lone surrogate, a NUL, other scripts'
    digits, would reach the store as a key to start after)."""
    if not after.isascii():
        return False
    if not query.indexed:
        return keys.is_job_id(after)
    try:
        tenant, status, _, _ = keys.parse_index_key(after)
    except ValueError:
        return False
    return tenant == query.tenant and status == query.status.value
