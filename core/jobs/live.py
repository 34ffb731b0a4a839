"""What the state store knows of jobs: each job as it is now, the open jobs of each tenant,
and the counters by status (keys and TTLs in core/keys.py).

A job's live copy is its record with its transient state on top (processing, progress, a
retry pending), so reading a job costs one state-store read, not a storage request. Each
copy is versioned by the record's revision, then the time of the change: a copy made from
an older revision, or an older change, never replaces a newer one, whatever order two
writers arrive in; a copy read back from storage (time 0) never replaces a transient change
of the same revision. The copy can be lost or go stale (a writer that died between its
storage write and this one): storage is the truth, readers fall back to it, and recovery
compares the two for every open job.
"""

from __future__ import annotations

import contextlib
import json
import time

from core import keys, metrics
from core.adapters.state import VERSION_CHARS, State
from core.errors import PdfqError
from core.jobs.model import Job, JobStatus

_HALF = VERSION_CHARS // 2


def _version(rev: int, at_us: int) -> str:
    return f"{rev:0{_HALF}d}{at_us:0{_HALF}d}"


class LiveJobs:
    def __init__(self, state: State):
        self.state = state

    # --- live copies ---

    def put(self, job: Job, into=None) -> bool:
        """The job as it is now (a change made this moment); False when a newer copy is there.
        `into`: a batch of the state store (state.batch()) to send it with, unanswered."""
        return self._put(job, time.time_ns() // 1000, into or self.state)

    def fill(self, job: Job) -> bool:
        """The job as storage has it, for the next reader, unless a copy of it is there."""
        return self._put(job, 0, self.state)

    def _put(self, job: Job, at_us: int, into) -> bool:
        body = json.dumps({"record": job.to_record(), "etag": job.etag}, separators=(",", ":"))
        ttl = keys.LIVE_DONE_TTL if job.status.terminal else keys.LIVE_OPEN_TTL
        return into.put_newer(keys.live_key(job.id), _version(job.rev, at_us) + body, ttl)

    def get(self, job_id: str) -> Job | None:
        return _parse(self.state.get(keys.live_key(job_id)))

    def get_many(self, job_ids: list[str]) -> dict[str, Job | None]:
        found = self.state.get_many([keys.live_key(job_id) for job_id in job_ids])
        return {job_id: _parse(found[keys.live_key(job_id)]) for job_id in job_ids}

    def keep(self, job_id: str):
        """Renew an open job's copy (its worker's heartbeat)."""
        self.state.expire(keys.live_key(job_id), keys.LIVE_OPEN_TTL)

    # --- open jobs, per tenant ---

    def opened(self, tenant: str, job_id: str, into=None):
        into = into or self.state
        into.add(keys.open_key(tenant), job_id)
        into.add(keys.OPEN_TENANTS, tenant)

    def closed(self, tenant: str, job_id: str, into=None):
        (into or self.state).discard(keys.open_key(tenant), job_id)

    def open_jobs(self, tenant: str, *, after: str | None = None, limit: int | None = None):
        """The tenant's open job ids, newest first."""
        return self.state.members(keys.open_key(tenant), after=after, limit=limit)

    def open_count(self, tenant: str) -> int:
        return self.state.count(keys.open_key(tenant))

    def open_tenants(self) -> list[str]:
        return self.state.members(keys.OPEN_TENANTS)

    def forget_tenant(self, tenant: str):
        """A tenant without open jobs (recovery), until its next job opens."""
        self.state.discard(keys.OPEN_TENANTS, tenant)

    # --- counters by status, overall and per tenant (bounded by the vocabulary) ---

    def moved(self, job: Job, old: JobStatus | None, into=None):
        """Count a move of `job` from `old` (None: created) to its status, and its metrics, in
        one round trip (or with the batch `into`)."""
        changes = _counted(job.tenant, old, job.status)
        if old is not None:
            changes.update(metrics.transition_counts(old, job))
        if job.batch_id and old is not job.status:  # a batch's counts, in the same trip
            if old is not None:
                changes[keys.batch_count_key(job.batch_id, old.value)] = -1
            changes[keys.batch_count_key(job.batch_id, job.status.value)] = 1
            if job.status is JobStatus.SUCCEEDED and job.pages_total:
                changes[keys.batch_pages_key(job.batch_id)] = job.pages_total
        if into is not None:
            into.incr_many(changes)
            return
        with contextlib.suppress(PdfqError):  # a state store blip: recovery recounts
            self.state.incr_many(changes)

    def count(self, tenant: str, old: JobStatus | None, new: JobStatus | None):
        self.state.incr_many(_counted(tenant, old, new))

    def counts(self, tenant: str | None = None) -> dict[str, int]:
        """Jobs by status, of every tenant (metrics, operators) or of one (its API view)."""
        named = {keys.count_key(s.value, tenant): s.value for s in JobStatus}
        found = self.state.get_many(list(named))
        return {status: max(0, int(found[key] or 0)) for key, status in named.items()}

    def recount(self, found: dict[tuple[str | None, JobStatus], int], statuses, tenants):
        """Set the counters of `statuses` (overall, and of each of `tenants`) to `found`, by
        adding the difference, so a move counted meanwhile is not lost, only seen next time."""
        names = {keys.count_key(s.value, t): (t, s) for t in [None, *tenants] for s in statuses}
        current = self.state.get_many(list(names))
        for key, slot in names.items():
            change = found.get(slot, 0) - int(current[key] or 0)
            if change:
                self.state.incr(key, change)


def _counted(tenant: str, old: JobStatus | None, new: JobStatus | None) -> dict[str, int]:
    """The counter changes of a move from `old` to `new`, overall and of the tenant."""
    changes: dict[str, int] = {}
    if old is new:
        return changes
    for scope in (None, tenant):
        if old is not None:
            changes[keys.count_key(old.value, scope)] = -1
        if new is not None:
            changes[keys.count_key(new.value, scope)] = 1
    return changes


def _parse(raw: str | None) -> Job | None:
    if raw is None:
        return None
    body = json.loads(raw[VERSION_CHARS:])
    return Job.from_record(body["record"], body["etag"])
