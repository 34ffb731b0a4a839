"""Job records in storage: created once, read, listed, and rewritten only by conditional writes.

The record in storage is the source of truth. `transition` checks a move against the table
of legal moves (core/jobs/model.py), stamps the times and writes with If-Match on the ETag it
read, so of two writers only one wins; the loser re-reads and re-checks. Only the lifecycle
(core/jobs/lifecycle.py) calls it. Each write also keeps the `active/` marker of open jobs,
the job index (core/jobs/index.py) and the per-status counters and metrics in the state store
in step.

On a store that ignores conditional writes (core/adapters/capabilities.py) the same guarantee
comes from a short lock in the state store around the record's read-check-write: HEAD the
record, compare its ETag, write, release. Every writer of records goes through here, so
holding the lock is enough; losing the state store makes writes wait (503), never race.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import itertools
import time
import uuid
from collections.abc import Collection, Iterable, Iterator
from typing import Any

from core import keys, metrics
from core.adapters.state import State
from core.adapters.storage import Storage
from core.clock import utcnow
from core.errors import (
    Conflict,
    JobDeleted,
    NotFound,
    ObjectMissing,
    PdfqError,
    StorageUnavailable,
    WriteConflict,
)
from core.jobs import index
from core.jobs.index import JobIndex
from core.jobs.model import ALLOWED, Job, JobStatus

_LOCK_WAIT = 10  # seconds a writer waits for a record's lock before answering 503


class JobRecords:
    def __init__(self, storage: Storage, state: State):
        self.storage = storage
        self.state = state
        self.index = JobIndex(storage)

    def create(
        self,
        *,
        job_id: str,
        tenant: str,
        filename: str,
        size: int,
        status: JobStatus,
        sha256: str | None = None,
        options: dict | None = None,
        callback_url: str | None = None,
        engine: str | None = None,
    ) -> Job:
        """Write a new record; WriteConflict if a record with this id exists already."""
        now = utcnow()
        job = Job(
            id=job_id,
            tenant=tenant,
            sha256=sha256,
            engine=engine,
            status=status,
            filename=filename,
            size=size,
            source_key=keys.source_key(tenant, job_id),
            created_at=now,
            updated_at=now,
            status_changed_at=now,
            queued_at=now if status is JobStatus.QUEUED else None,
            options=options or {},
            callback_url=callback_url,
        )
        # The marker first: a record that is not terminal must always be listed as active.
        self.storage.put_bytes(keys.active_key(tenant, job_id), b"")
        self.index.add(*index.expected_keys(job))  # listed before it is written, too
        try:
            job.etag = self._write(keys.record_key(tenant, job_id), job.to_record(), if_absent=True)
        except WriteConflict:  # the job exists (a repeated event): it keeps its own entries
            existing = self.get(job_id, tenant, tombstone=True)
            self.index.remove(*(index.expected_keys(job) - index.expected_keys(existing)))
            raise
        with contextlib.suppress(PdfqError):  # a state store blip: recovery recounts
            self._count(tenant, None, status)
        return job

    def get(self, job_id: str, tenant: str, *, tombstone: bool = False) -> Job:
        """The job's record; JobDeleted (a NotFound, 410) for an erased one, unless
        `tombstone` asks for its tombstone."""
        if not keys.is_job_id(job_id):
            raise NotFound(f"No job {job_id!r}.")
        try:
            record, etag = self.storage.get_json(keys.record_key(tenant, job_id))
        except ObjectMissing:
            raise NotFound(f"No job {job_id!r}.") from None
        job = Job.from_record(record, etag)
        if job.status is JobStatus.DELETED and not tombstone:
            raise JobDeleted(
                f"Job {job_id} was deleted at {job.status_changed_at}; its PDF and results "
                "are erased.",
                deleted_at=job.status_changed_at,
            )
        return job

    def delete(self, job: Job):
        """Remove a record and its marker (a job that never became real)."""
        self.storage.delete(keys.record_key(job.tenant, job.id))
        self.storage.delete(keys.active_key(job.tenant, job.id))
        self.index.remove(*index.expected_keys(job))
        self._count(job.tenant, job.status, None)

    def transition(
        self, job: Job, to: JobStatus, *, expect: JobStatus | None = None, **changes: Any
    ) -> Job:
        """Move `job` to `to`, applying `changes`; re-reads and re-checks on a lost race.

        A change may be a function of the record it is applied to (`attempts=lambda job:
        [*job.attempts, entry]`): after a re-read it is computed again from the stored record,
        so an entry someone else appended meanwhile is kept. With `expect`, the move happens
        only while the stored job is still in that status: of several callers racing to make
        the same move, exactly one wins and the others get Conflict (without it, a
        same-status move with changes would let them all through).
        """
        for _ in range(5):
            if expect is not None and job.status is not expect:
                raise Conflict(f"Job {job.id} is {job.status.value}, no longer {expect.value}.")
            if to not in ALLOWED[job.status] and not (to is job.status and changes):
                raise Conflict(f"Job {job.id} is {job.status.value}; it cannot become {to.value}.")
            values = {name: v(job) if callable(v) else v for name, v in changes.items()}
            updated = dataclasses.replace(job, status=to, updated_at=utcnow(), **values)
            _stamp(updated, job.status)
            marker = keys.active_key(job.tenant, job.id)
            if job.status.terminal and not to.terminal:
                self.storage.put_bytes(marker, b"")  # re-opened: listed before it is written
            entry = index.status_key(updated) if to is not job.status else None
            if entry:
                self.index.add(entry)  # listed in its new status before it is written
            try:
                updated.etag = self._write(
                    keys.record_key(job.tenant, job.id), updated.to_record(), if_match=job.etag
                )
            except WriteConflict:
                if entry:
                    self.index.remove(entry)
                job = self.get(job.id, job.tenant, tombstone=True)
                continue
            if entry:
                self.index.remove(*(index.expected_keys(job) - index.expected_keys(updated)))
            with contextlib.suppress(PdfqError):  # a state store blip: recovery recounts
                self._count(job.tenant, job.status, to)
                metrics.record_transition(self.state, job.status, updated)
            if to.terminal:
                self.close(updated)
            return updated
        raise Conflict(f"Job {job.id} is changing too often to update; try again.")

    def _write(
        self, key: str, record: dict, *, if_match: str | None = None, if_absent: bool = False
    ) -> str:
        """A conditional write of a record: by the store when it honours the condition, else
        under the record's lock. WriteConflict when the condition does not hold."""
        capabilities = self.storage.capabilities()
        honoured = (
            capabilities.conditional_create if if_absent else capabilities.conditional_replace
        )
        if honoured:
            return self.storage.put_json(key, record, if_match=if_match, if_absent=if_absent)
        with self._locked(key):
            current = self.storage.etag(key)
            if (if_absent and current is not None) or (if_match and current != if_match):
                raise WriteConflict(key)
            return self.storage.put_json(key, record)

    @contextlib.contextmanager
    def _locked(self, key: str):
        """Hold the record's lock (waiting up to about 10 s for another writer to finish)."""
        lock, token = keys.record_lock_key(key), uuid.uuid4().hex
        deadline = time.monotonic() + _LOCK_WAIT
        pause = 0.01
        while not self.state.set_if_absent(lock, token, keys.RECORD_LOCK_TTL):
            if time.monotonic() > deadline:
                raise StorageUnavailable(
                    f"Another writer has held {key} for over {_LOCK_WAIT} s; try again shortly.",
                    retry_after=5,
                )
            time.sleep(pause)
            pause = min(pause * 2, 0.2)
        try:
            yield
        finally:
            with contextlib.suppress(PdfqError):  # it expires anyway
                if self.state.get(lock) == token:
                    self.state.delete(lock)

    def close(self, job: Job):
        """Remove the `active/` marker of a terminal job; if this fails, recovery retries it."""
        with contextlib.suppress(PdfqError):
            self.storage.delete(keys.active_key(job.tenant, job.id))

    # --- listings ---

    def active(self) -> Iterator[tuple[str, str]]:
        """(tenant, job_id) of every job that is not terminal, from the durable markers."""
        for key in self.storage.list_keys(keys.ACTIVE_PREFIX):
            yield keys.parse_active_key(key)

    def in_flight(self, tenant: str, up_to: int | None = None) -> int:
        """How many of the tenant's jobs are not terminal, counting no further than `up_to`."""
        listed = self.storage.list_keys(keys.active_prefix(tenant))
        return sum(1 for _ in itertools.islice(listed, up_to))

    def listed(self, tenant: str | None = None, since: dt.datetime | None = None):
        """(tenant, job_id) of every record (of one tenant; changed since `since`), by scan."""
        prefix = keys.RECORDS_PREFIX + (f"{tenant}/" if tenant else "")
        for item in self.storage.list_objects(prefix):
            if since is not None and item["LastModified"] < since:
                continue
            with contextlib.suppress(ValueError):  # not a job record: not pdfq's
                yield keys.parse_record_key(item["Key"])

    # --- counters by status, overall and per tenant (ephemeral, bounded by the vocabulary) ---

    def _count(self, tenant: str, old: JobStatus | None, new: JobStatus | None):
        if old is new:
            return
        for scope in (None, tenant):
            if old is not None:
                self.state.incr(keys.count_key(old.value, scope), -1)
            if new is not None:
                self.state.incr(keys.count_key(new.value, scope), 1)

    def tenants(self) -> list[str]:
        """Every tenant that has a job record."""
        return [
            p.rstrip("/").rsplit("/", 1)[-1]
            for p in self.storage.list_prefixes(keys.RECORDS_PREFIX)
        ]

    def recount(self, jobs: Iterable[tuple[str, JobStatus]], statuses: Collection[JobStatus]):
        """Set the counters of `statuses`, overall and of every tenant, to what the records
        say (`jobs`: the (tenant, status) of every record in those statuses). Counters can
        drift (a process dying between a record write and its counter update, a write race
        on a store that lost one): each recovery pass puts them right. Counted by adding the
        difference, so a transition counted meanwhile is not lost, only seen next pass."""
        found: dict[tuple[str | None, JobStatus], int] = {}
        for tenant, status in jobs:
            for scope in (None, tenant):
                found[scope, status] = found.get((scope, status), 0) + 1
        scopes = [None, *self.tenants()]
        names = {keys.count_key(s.value, t): (t, s) for t in scopes for s in statuses}
        current = self.state.get_many(list(names))
        for key, slot in names.items():
            change = found.get(slot, 0) - int(current[key] or 0)
            if change:
                self.state.incr(key, change)

    def counts(self, tenant: str | None = None) -> dict[str, int]:
        """Jobs by status, of every tenant (metrics, operators) or of one (its API view)."""
        named = {keys.count_key(s.value, tenant): s.value for s in JobStatus}
        found = self.state.get_many(list(named))
        return {status: max(0, int(found[key] or 0)) for key, status in named.items()}


def _stamp(job: Job, previous: JobStatus):
    now = job.updated_at
    if job.status is previous:
        return
    job.status_changed_at = now
    if job.status is JobStatus.QUEUED:
        job.queued_at, job.scheduled_for = now, None
    elif job.status is JobStatus.PROCESSING:
        job.started_at, job.finished_at = now, None
    elif job.status.terminal:
        job.finished_at = now
