"""A job: the closed status vocabulary, the table of legal moves, and the durable record.

The record lives in storage as JSON (keys.record_key); core/jobs/records.py reads and writes
it, and core/jobs/lifecycle.py is the only code that moves a job from one status to another.

A move is durable (written to storage, where the promise lives) or transient (kept in the
state store only): starting a run, and handing a run back for a retry or to another worker,
are transient; being created, accepted, scheduled by a person, ended and erased are
durable. After the state store lost its data a job shows its last durable status, and
recovery runs it again from there.
"""

from __future__ import annotations

import dataclasses
from enum import StrEnum
from typing import Any

from core.clock import utcnow


class JobStatus(StrEnum):
    AWAITING_UPLOAD = "awaiting_upload"
    QUEUED = "queued"
    SCHEDULED = "scheduled"
    PROCESSING = "processing"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"
    DELETED = "deleted"  # erased: the record stays as a tombstone, every object of it is gone

    @property
    def terminal(self) -> bool:
        return self in TERMINAL


TERMINAL = frozenset({JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELED, JobStatus.DELETED})
WAITING = (JobStatus.QUEUED, JobStatus.SCHEDULED)

_S = JobStatus
ALLOWED: dict[JobStatus, frozenset[JobStatus]] = {
    _S.AWAITING_UPLOAD: frozenset({_S.QUEUED, _S.FAILED, _S.CANCELED}),
    # queued -> awaiting_upload: a completed upload whose enqueue failed is handed back.
    _S.QUEUED: frozenset({_S.PROCESSING, _S.SCHEDULED, _S.FAILED, _S.CANCELED, _S.AWAITING_UPLOAD}),
    _S.SCHEDULED: frozenset({_S.QUEUED, _S.PROCESSING, _S.FAILED, _S.CANCELED}),
    # processing -> queued/scheduled: a retry or an interrupted worker hands the job back.
    _S.PROCESSING: frozenset({_S.SUCCEEDED, _S.FAILED, _S.QUEUED, _S.SCHEDULED, _S.CANCELED}),
    # Finished jobs can only be re-run (reprocess) or erased; an erased job never moves again.
    _S.SUCCEEDED: frozenset({_S.QUEUED, _S.SCHEDULED, _S.DELETED}),
    _S.FAILED: frozenset({_S.QUEUED, _S.SCHEDULED, _S.DELETED}),
    _S.CANCELED: frozenset({_S.QUEUED, _S.SCHEDULED, _S.DELETED}),
    _S.DELETED: frozenset(),
}


def is_transient(old: JobStatus, new: JobStatus) -> bool:
    """Whether the move old -> new lives in the state store only: a run starting, or handed
    back unfinished (a retry, a worker that stopped or died)."""
    running = JobStatus.PROCESSING
    return new is running or (old is running and new in WAITING)


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
    # The ETag of the source object a presigned upload was completed with: the worker
    # downloads only that version (an upload URL stays valid and could replace it).
    source_etag: str | None = None
    engine: str | None = None  # None: DEFAULT_ENGINE when the job runs
    # A job from a URL: the worker fetches it into the source key on the job's first run
    # (size 0 until a run that fetched it succeeds; then re-runs read the stored copy).
    source_url: str | None = None
    batch_id: str | None = None  # the batch that made the job (core/jobs/batches.py)
    # A job from a granted bucket ({"bucket", "key"}: core/adapters/granted.py), read into
    # the source key on its first run, as a source_url is fetched.
    source_object: dict | None = None
    queued_at: str | None = None
    started_at: str | None = None
    finished_at: str | None = None
    scheduled_for: str | None = None
    # When the job entered its status (its place in the index of that status); a deleted
    # job's is when it was erased.
    status_changed_at: str | None = None
    worker: str | None = None
    pages_total: int | None = None
    pages_done: int | None = None
    error: dict | None = None
    warnings: list[str] = dataclasses.field(default_factory=list)
    attempts: list[dict] = dataclasses.field(default_factory=list)
    result: dict | None = None
    # Outputs made after the run, beside its result (core/jobs/added.py): {"result": the result
    # key they belong to, "outputs", "pending", "failed"}.
    added: dict | None = None
    # Extraction options (the password sealed: core/jobs/options.py), the webhook URL and
    # the log of its deliveries.
    options: dict = dataclasses.field(default_factory=dict)
    callback_url: str | None = None
    deliveries: list[dict] = dataclasses.field(default_factory=list)
    # The webhook event the job's end owes its callback URL until one delivery succeeds.
    webhook_owed: str | None = None
    # A re-run of a finished job: its id's time is old, so a marker lists it while it is open.
    reopened: bool = False
    # The job's last MAX_MOVES status changes, numbered from 1 ({"n", "status", "at"}): what
    # GET /jobs/<id>/events replays to a listener that reconnects (no other store of them).
    moves: list[dict] = dataclasses.field(default_factory=list)
    # Durable writes of the record so far; with the ETag, what a conditional write expects.
    rev: int = 0
    etag: str | None = dataclasses.field(default=None, compare=False, repr=False)

    def to_record(self) -> dict[str, Any]:
        """The record as stored (shallow: its lists and dicts are the job's own)."""
        record = {name: getattr(self, name) for name in _RECORD_FIELDS}
        record["status"] = self.status.value
        return record

    @classmethod
    def from_record(cls, record: dict[str, Any], etag: str | None = None) -> Job:
        names = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in record.items() if k in names}
        values["status"] = JobStatus(values["status"])
        return cls(**values, etag=etag)


_RECORD_FIELDS = tuple(f.name for f in dataclasses.fields(Job) if f.name != "etag")


MAX_MOVES = 30


def with_move(moves: list[dict], status: JobStatus, at: str) -> list[dict]:
    """`moves` with one more, numbered after the last, the oldest dropped past MAX_MOVES."""
    number = moves[-1]["n"] + 1 if moves else 1
    return [*moves, {"n": number, "status": status.value, "at": at}][-MAX_MOVES:]


def attempt(by: str, outcome: str) -> dict[str, str]:
    """One entry of a job's `attempts`: when, which process, and how it ended."""
    return {"at": utcnow(), "worker": by, "outcome": outcome}
