"""Job state: the status vocabulary, the durable record in S3, progress and counters.

The record in S3 is the source of truth; every change goes through `JobStore.transition`,
which checks the move is legal and writes with If-Match so two writers cannot both win.
Progress and per-status counters are ephemeral state (Redis or the embedded store).
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import itertools
import json
from enum import StrEnum
from typing import Any

from core import keys, metrics
from core.errors import Conflict, NotFound, PdfqError
from core.storage import ObjectMissing, Storage, WriteConflict


class JobStatus(StrEnum):
    AWAITING_UPLOAD = "awaiting_upload"
    QUEUED = "queued"
    SCHEDULED = "scheduled"
    PROCESSING = "processing"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"

    @property
    def terminal(self) -> bool:
        return self in TERMINAL


TERMINAL = frozenset({JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELED})

_S = JobStatus
ALLOWED: dict[JobStatus, frozenset[JobStatus]] = {
    _S.AWAITING_UPLOAD: frozenset({_S.QUEUED, _S.FAILED, _S.CANCELED}),
    # queued -> awaiting_upload: a completed upload whose enqueue failed is handed back.
    _S.QUEUED: frozenset({_S.PROCESSING, _S.SCHEDULED, _S.FAILED, _S.CANCELED, _S.AWAITING_UPLOAD}),
    _S.SCHEDULED: frozenset({_S.QUEUED, _S.PROCESSING, _S.FAILED, _S.CANCELED}),
    # processing -> queued/scheduled: a retry or an interrupted worker hands the job back.
    _S.PROCESSING: frozenset({_S.SUCCEEDED, _S.FAILED, _S.QUEUED, _S.SCHEDULED, _S.CANCELED}),
    # Terminal jobs can only be re-run (reprocess).
    _S.SUCCEEDED: frozenset({_S.QUEUED, _S.SCHEDULED}),
    _S.FAILED: frozenset({_S.QUEUED, _S.SCHEDULED}),
    _S.CANCELED: frozenset({_S.QUEUED, _S.SCHEDULED}),
}


def utcnow() -> str:
    """An ISO 8601 UTC timestamp with milliseconds, as every record and response uses."""
    return utc_after(0)


def utc_after(seconds: float) -> str:
    """The timestamp `seconds` from now, in the same format as utcnow()."""
    when = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=seconds)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def parse_time(value: str) -> dt.datetime:
    """A timestamp written by utcnow() as an aware datetime."""
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


@dataclasses.dataclass
class Job:
    """The durable job record, stored as JSON at keys.record_key(tenant, id)."""

    id: str
    tenant: str
    status: JobStatus
    filename: str
    size: int
    source_key: str
    created_at: str
    updated_at: str
    sha256: str | None = None
    engine: str | None = None  # None: DEFAULT_ENGINE when the job runs (issue 7)
    queued_at: str | None = None
    started_at: str | None = None
    finished_at: str | None = None
    scheduled_for: str | None = None
    worker: str | None = None
    pages_total: int | None = None
    pages_done: int | None = None
    error: dict | None = None
    warnings: list[str] = dataclasses.field(default_factory=list)
    attempts: list[dict] = dataclasses.field(default_factory=list)
    result: dict | None = None
    # Job control (issue 5): extraction options (password sealed, see core/options.py),
    # the webhook URL and its delivery log.
    options: dict = dataclasses.field(default_factory=dict)
    callback_url: str | None = None
    deliveries: list[dict] = dataclasses.field(default_factory=list)
    etag: str | None = dataclasses.field(default=None, compare=False, repr=False)

    def to_record(self) -> dict[str, Any]:
        record = dataclasses.asdict(self)
        record.pop("etag")
        record["status"] = self.status.value
        return record

    @classmethod
    def from_record(cls, record: dict[str, Any], etag: str | None = None) -> Job:
        names = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in record.items() if k in names}
        values["status"] = JobStatus(values["status"])
        return cls(**values, etag=etag)


class JobStore:
    """Creates, reads and moves jobs; owns their records, progress and status counters."""

    def __init__(self, storage: Storage, state, progress_ttl: int = 7 * 24 * 3600):
        self.storage = storage
        self.state = state
        self.progress_ttl = progress_ttl

    # --- records ---

    def create(
        self,
        *,
        job_id: str,
        tenant: str,
        filename: str,
        size: int,
        status: JobStatus = JobStatus.QUEUED,
        sha256: str | None = None,
        options: dict | None = None,
        callback_url: str | None = None,
        engine: str | None = None,
    ) -> Job:
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
            queued_at=now if status is JobStatus.QUEUED else None,
            options=options or {},
            callback_url=callback_url,
        )
        # The marker first: a record that is not terminal must always be listed as active.
        self.storage.put_bytes(keys.active_key(tenant, job_id), b"")
        job.etag = self.storage.put_json(
            keys.record_key(tenant, job_id), job.to_record(), if_absent=True
        )
        self._count(tenant, None, status)
        return job

    def get(self, job_id: str, tenant: str) -> Job:
        if not keys.is_job_id(job_id):
            raise NotFound(f"No job {job_id!r}.")
        try:
            record, etag = self.storage.get_json(keys.record_key(tenant, job_id))
        except ObjectMissing:
            raise NotFound(f"No job {job_id!r}.") from None
        return Job.from_record(record, etag)

    def delete(self, job: Job):
        """Forget a job that never became real (its upload was refused after creation)."""
        self.storage.delete(keys.record_key(job.tenant, job.id))
        self.storage.delete(keys.active_key(job.tenant, job.id))
        self._count(job.tenant, job.status, None)

    def in_flight(self, tenant: str, up_to: int | None = None) -> int:
        """How many of the tenant's jobs are not terminal, counting no further than `up_to`."""
        listed = self.storage.list_keys(keys.active_prefix(tenant))
        return sum(1 for _ in itertools.islice(listed, up_to))

    def active(self):
        """(tenant, job_id) of every job that is not terminal, from the durable markers."""
        for key in self.storage.list_keys(keys.ACTIVE_PREFIX):
            yield keys.parse_active_key(key)

    def transition(
        self, job: Job, to: JobStatus, *, expect: JobStatus | None = None, **changes: Any
    ) -> Job:
        """Move `job` to `to`, applying `changes`; re-reads and re-checks on a lost race.

        With `expect`, the move happens only while the stored job is still in that status: of
        several callers racing to make the same move, exactly one wins and the others get
        Conflict (without it, a same-status move with changes would let them all through).
        """
        for _ in range(5):
            if expect is not None and job.status is not expect:
                raise Conflict(f"Job {job.id} is {job.status.value}, no longer {expect.value}.")
            if to not in ALLOWED[job.status] and not (to is job.status and changes):
                raise Conflict(f"Job {job.id} is {job.status.value}; it cannot become {to.value}.")
            updated = dataclasses.replace(job, status=to, updated_at=utcnow(), **changes)
            self._stamp(updated, job.status)
            marker = keys.active_key(job.tenant, job.id)
            if job.status.terminal and not to.terminal:
                self.storage.put_bytes(marker, b"")  # re-opened: listed before it is written
            try:
                updated.etag = self.storage.put_json(
                    keys.record_key(job.tenant, job.id), updated.to_record(), if_match=job.etag
                )
            except WriteConflict:
                job = self.get(job.id, job.tenant)
                continue
            self._count(job.tenant, job.status, to)
            metrics.record_transition(self.state, job.status, updated)  # issue 8: /metrics
            if to.terminal:
                self._close(marker)
            return updated
        raise Conflict(f"Job {job.id} is changing too often to update; try again.")

    def _close(self, marker: str):
        # If this fails, recovery deletes markers of terminal jobs it comes across.
        with contextlib.suppress(PdfqError):
            self.storage.delete(marker)

    @staticmethod
    def _stamp(job: Job, previous: JobStatus):
        now = job.updated_at
        if job.status is previous:
            return
        if job.status is JobStatus.QUEUED:
            job.queued_at, job.scheduled_for = now, None
        elif job.status is JobStatus.PROCESSING:
            job.started_at, job.finished_at = now, None
        elif job.status.terminal:
            job.finished_at = now

    # --- attempts and failures ---

    @staticmethod
    def attempt(worker: str, outcome: str) -> dict[str, str]:
        return {"at": utcnow(), "worker": worker, "outcome": outcome}

    def fail(self, job: Job, error: PdfqError, worker: str) -> Job:
        """End a job as failed with the error's stable code, recording the attempt."""
        return self.transition(
            job,
            JobStatus.FAILED,
            error=error.to_dict(),
            attempts=[*job.attempts, self.attempt(worker, error.code)],
        )

    # --- progress (ephemeral) ---

    def set_progress(self, job_id: str, done: int, total: int | None):
        self.state.set(f"progress:{job_id}", json.dumps([done, total]), self.progress_ttl)

    def progress(self, job: Job) -> tuple[int | None, int | None]:
        """(pages_done, pages_total): live while processing, from the record otherwise."""
        if job.status is JobStatus.PROCESSING:
            raw = self.state.get(f"progress:{job.id}")
            if raw:
                done, total = json.loads(raw)
                return done, total
        return job.pages_done, job.pages_total

    # --- counters by status, overall and per tenant (ephemeral, bounded by the vocabulary) ---

    def _count(self, tenant: str, old: JobStatus | None, new: JobStatus | None):
        if old is new:
            return
        for scope in ("count", f"count:{tenant}"):
            if old is not None:
                self.state.incr(f"{scope}:{old.value}", -1)
            if new is not None:
                self.state.incr(f"{scope}:{new.value}", 1)

    def counts(self, tenant: str | None = None) -> dict[str, int]:
        """Jobs by status, of every tenant (metrics, operators) or of one (its API view)."""
        scope = f"count:{tenant}" if tenant else "count"
        return {s.value: max(0, int(self.state.get(f"{scope}:{s.value}") or 0)) for s in JobStatus}
