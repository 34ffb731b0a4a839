"""Jobs as they are now: the durable record in storage, with its live copy in the state store.

The record in storage is the source of truth, written where a promise is made: when the job
is created, accepted, scheduled or re-run by someone, and when it ends or is erased. Each of
those writes is conditional (If-Match on the ETag read, If-None-Match for a new record), so
of two writers only one wins; the loser re-reads and re-checks. A run's transient moves
(starting, handing the job back for a retry or to another worker) and its progress live in
the job's live copy only (core/jobs/live.py): a one-page job writes its record twice, once
at creation and once at its end. Only the lifecycle (core/jobs/lifecycle.py) calls
`transition`.

Reading a job costs one state-store read; storage answers when the state store has no copy
(lost, expired, or another tenant's id), and the copy read there is kept for the next reader.

Beside the record each durable write keeps in step: the index entries of failed, canceled and
erased jobs (core/jobs/index.py); the marker of a re-run job while it is open (its id's time
is old: jobs/<tenant>/ lists by creation); and, in the state store, the tenant's set of open
jobs, the counters by status and the metrics.

On a store that ignores conditional writes (core/adapters/capabilities.py) the same guarantee
comes from a short lock in the state store around the record's read-check-write: HEAD the
record, compare its ETag, write, release. Every writer of records goes through here, so
holding the lock is enough; losing the state store makes writes wait (503), never race.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from core import keys
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
from core.jobs.live import LiveJobs
from core.jobs.model import ALLOWED, Job, JobStatus, is_transient, with_move

_LOCK_WAIT = 10  # seconds a writer waits for a record's lock before answering 503
_READERS = 8  # records read from storage at once for one page of a listing


class JobRecords:
    def __init__(self, storage: Storage, state: State):
        self.storage = storage
        self.state = state
        self.live = LiveJobs(state)
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
        durable: bool = True,
        created_at: str | None = None,
        source_url: str | None = None,
        batch_id: str | None = None,
        source_object: dict | None = None,
    ) -> Job:
        """Write a new record; WriteConflict if a record with this id exists already. The job
        joins its tenant's open jobs; a state store that cannot take it fails the call (the
        caller removes the record again). Not `durable`: the job is the state store's only
        (revision 0) until its first durable move creates the record (a presigned upload
        whose object carries the job: core/jobs/carried.py)."""
        now = created_at or utcnow()
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
            moves=with_move([], status, now),
            source_url=source_url,
            batch_id=batch_id,
            source_object=source_object,
            rev=1 if durable else 0,
        )
        if durable:
            record = job.to_record()
            job.etag = self._write(keys.record_key(tenant, job_id), record, if_absent=True)
        with self.state.batch() as batch:  # one round trip
            self.live.put(job, into=batch)
            self.live.opened(tenant, job_id, into=batch)
            self.live.moved(job, None, into=batch)
        return job

    def get(self, job_id: str, tenant: str, *, tombstone: bool = False) -> Job:
        """The job as it is now; JobDeleted (a NotFound, 410) for an erased one, unless
        `tombstone` asks for its tombstone."""
        if not keys.is_job_id(job_id):
            raise NotFound(f"No job {job_id!r}.")
        job = self._live(job_id)
        if job is None or job.tenant != tenant:
            job = self.stored(job_id, tenant)
            with contextlib.suppress(PdfqError):
                self.live.fill(job)
        return _unless_erased(job, tombstone)

    def stored(self, job_id: str, tenant: str) -> Job:
        """The record in storage, without what the state store knows."""
        try:
            record, etag = self.storage.get_json(keys.record_key(tenant, job_id))
        except ObjectMissing:
            raise NotFound(f"No job {job_id!r}.") from None
        return Job.from_record(record, etag)

    def current(self, job: Job) -> Job:
        """The job read again: storage, with the live copy on top when it is of the same
        revision (it then holds the transient state)."""
        try:
            stored = self.stored(job.id, job.tenant)
        except NotFound:
            live = self._live(job.id)
            if live is not None and live.rev == 0:
                return live  # carried by its upload: no record until that is completed
            raise
        live = self._live(job.id)
        if live is not None and live.rev == stored.rev and live.etag == stored.etag:
            return live
        with contextlib.suppress(PdfqError):
            self.live.fill(stored)
        return stored

    def many(self, tenant: str, job_ids: list[str]) -> list[Job]:
        """The jobs (tombstones included), in the order given, without ids with no record:
        live copies in one read, the rest from storage, several at a time."""
        try:
            found = self.live.get_many(job_ids)
        except PdfqError:
            found = dict.fromkeys(job_ids)
        missing = [i for i in job_ids if found[i] is None or found[i].tenant != tenant]

        def stored(job_id: str) -> Job | None:
            with contextlib.suppress(NotFound):
                job = self.stored(job_id, tenant)
                with contextlib.suppress(PdfqError):
                    self.live.fill(job)
                return job
            return None

        if missing:
            with ThreadPoolExecutor(max_workers=min(_READERS, len(missing))) as pool:
                found.update(zip(missing, pool.map(stored, missing), strict=True))
        return [found[i] for i in job_ids if found[i] is not None]

    def _live(self, job_id: str) -> Job | None:
        try:
            return self.live.get(job_id)
        except PdfqError:  # the state store is down: storage answers alone
            return None

    def delete(self, job: Job):
        """Remove a job that never became real: its record, live copy and place in the lists."""
        if job.rev:
            self.storage.delete(keys.record_key(job.tenant, job.id))
        with contextlib.suppress(PdfqError):
            self.state.delete(keys.live_key(job.id))
            self.live.closed(job.tenant, job.id)
            self.live.count(job.tenant, job.status, None)

    def transition(
        self, job: Job, to: JobStatus, *, expect: JobStatus | None = None, **changes: Any
    ) -> Job:
        """Move `job` to `to`, applying `changes`; re-reads and re-checks on a lost race.

        A change may be a function of the job it is applied to (`attempts=lambda job:
        [*job.attempts, entry]`): after a re-read it is computed again from the job as it
        stands, so an entry someone else appended meanwhile is kept. With `expect`, the move
        happens only while the job is still in that status: of several callers racing to make
        the same move, exactly one wins and the others get Conflict (without it, a same-status
        move with changes would let them all through). A transient move (model.is_transient)
        changes the live copy only; every other move writes the record.
        """
        for _ in range(5):
            if expect is not None and job.status is not expect:
                raise Conflict(f"Job {job.id} is {job.status.value}, no longer {expect.value}.")
            if to not in ALLOWED[job.status] and not (to is job.status and changes):
                raise Conflict(f"Job {job.id} is {job.status.value}; it cannot become {to.value}.")
            values = {name: v(job) if callable(v) else v for name, v in changes.items()}
            updated = dataclasses.replace(job, status=to, updated_at=utcnow(), **values)
            _stamp(updated, job.status)
            if to is not job.status:
                updated.moves = with_move(job.moves, to, updated.updated_at)
            if is_transient(job.status, to):
                if self.live.put(updated):
                    self.live.moved(updated, job.status)
                    return updated
            else:
                with contextlib.suppress(WriteConflict):
                    return self._write_moved(job, updated)
            job = self.current(job)
        raise Conflict(f"Job {job.id} is changing too often to update; try again.")

    def _write_moved(self, job: Job, updated: Job) -> Job:
        """The durable write of a move, and everything kept in step with it."""
        tenant, to = job.tenant, updated.status
        updated.rev = job.rev + 1
        reopened = job.status.terminal and not to.terminal
        if reopened:
            updated.reopened = True
            self.storage.put_bytes(keys.reopened_key(tenant, job.id), b"")  # listed first
        elif to.terminal:
            updated.reopened = False
        entry = index.status_key(updated) if to is not job.status else None
        if entry:
            self.index.add(entry)  # listed in its new status before it is written
        try:
            updated.etag = self._write(
                keys.record_key(tenant, job.id),
                updated.to_record(),
                if_match=job.etag,
                if_absent=job.rev == 0,  # the job's first write (it was carried until now)
            )
        except WriteConflict:
            if entry:
                self.index.remove(entry)
            raise
        self.index.remove(*(index.expected_keys(job) - index.expected_keys(updated)))
        with contextlib.suppress(PdfqError), self.state.batch() as batch:  # one round trip
            # A state store blip: readers fall back to storage, recovery recounts.
            self.live.put(updated, into=batch)
            if reopened or (job.rev == 0 and not to.terminal):  # (again, for a carried job)
                self.live.opened(tenant, job.id, into=batch)
            elif to.terminal:
                self.live.closed(tenant, job.id, into=batch)
            self.live.moved(updated, job.status, into=batch)
        if to.terminal and job.reopened:
            self.close(updated)
        return updated

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
        """Remove the marker of a re-run job that ended; if this fails, recovery retries it."""
        with contextlib.suppress(PdfqError):
            self.storage.delete(keys.reopened_key(job.tenant, job.id))

    # --- listings ---

    def page(self, tenant: str, *, after: str | None, limit: int) -> tuple[list[str], bool]:
        """Up to `limit` of the tenant's job ids after the id `after`, newest first, and
        whether more follow: one listing request of its records."""
        start = keys.record_key(tenant, after) if after else None
        listed, truncated = self.storage.list_page(
            keys.records_prefix(tenant), start_after=start, limit=limit
        )
        ids = []
        for item in listed:
            with contextlib.suppress(ValueError):  # not a job record: not pdfq's
                ids.append(keys.parse_record_key(item["Key"])[1])
        return ids, truncated

    def reopened(self) -> Iterator[tuple[str, str]]:
        """(tenant, job_id) of every re-run job that is open, from the durable markers."""
        for key in self.storage.list_keys(keys.REOPENED_PREFIX):
            yield keys.parse_reopened_key(key)

    def listed(self, tenant: str | None = None, since: dt.datetime | None = None):
        """(tenant, job_id) of every record (of one tenant; changed since `since`), by scan."""
        prefix = keys.RECORDS_PREFIX + (f"{tenant}/" if tenant else "")
        for item in self.storage.list_objects(prefix):
            if since is not None and item["LastModified"] < since:
                continue
            with contextlib.suppress(ValueError):  # not a job record: not pdfq's
                yield keys.parse_record_key(item["Key"])

    def tenants(self) -> list[str]:
        """Every tenant that has a job record."""
        return [
            p.rstrip("/").rsplit("/", 1)[-1]
            for p in self.storage.list_prefixes(keys.RECORDS_PREFIX)
        ]

    def in_flight(self, tenant: str) -> int:
        """How many of the tenant's jobs are open (the state store's count)."""
        return self.live.open_count(tenant)

    def counts(self, tenant: str | None = None) -> dict[str, int]:
        """Jobs by status, of every tenant (metrics, operators) or of one (its API view)."""
        return self.live.counts(tenant)


def _unless_erased(job: Job, tombstone: bool) -> Job:
    if job.status is JobStatus.DELETED and not tombstone:
        raise JobDeleted(
            f"Job {job.id} was deleted at {job.status_changed_at}; its PDF and results are erased.",
            deleted_at=job.status_changed_at,
        )
    return job


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
