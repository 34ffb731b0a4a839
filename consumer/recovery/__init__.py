"""Recovery: re-enqueue what the queue forgot and what dead workers dropped.

One pass over the durable list of open jobs (the `active/` markers in storage):
- queued or scheduled, with no enqueue marker and no lease: the queue lost it (Redis
  flushed, restarted without persistence, failed over): enqueue it again, at its time;
- marked enqueued, but the marked task is in neither the queue nor the schedule (its
  retries ran out while storage was down, so Huey dropped it): the marker is stale; it is
  removed and the job handled as above. A marker younger than RECONCILE_GRACE_SECONDS is
  trusted (its task may be between the queue and a worker's lease);
- processing, with no lease for a whole lease period (a live worker cut off by a Redis
  outage renews its lease soon after Redis is back): its worker died (SIGKILL, OOM, a dyno
  killed): put it back, or, once it has been in progress at N worker deaths, fail it with
  `worker_crashed`. The first pass to miss the lease notes when; the task asks for a pass
  a lease period later;
- awaiting_upload past its upload URLs' expiry (PRESIGN_EXPIRY) and the grace: the file
  arrived but nobody completed it (lost event, client gone): complete it; nothing arrived:
  fail it `upload_expired`, so abandoned uploads do not count against the tenant's limit;
- terminal: a marker left behind by a failed delete: remove it.
When the job index has never been built in this bucket (core/jobs/reindex.py), the pass
rebuilds it from the records, once.
Jobs changed in the last RECONCILE_GRACE_SECONDS are left alone (they may be mid-enqueue).
Each move is the lifecycle's; the pass also drops expired rows of the embedded state store
and sets the counters of open jobs to what the records say (the hourly pass and the command
recount finished jobs as well, reading every record).

Run every minute by a Huey periodic task, once by a consumer that starts (as soon as the
leases of the workers it replaces can have run out), and on demand with
`python -m consumer.recovery`.
"""

from __future__ import annotations

import dataclasses
import logging

from core import keys
from core.clock import seconds_since
from core.errors import NotFound, NotUploaded, PdfqError
from core.jobs import reindex
from core.jobs.inflight import HUEY_RETRY
from core.jobs.model import Job, JobStatus
from core.services import Services

log = logging.getLogger("pdfq.recovery")
OPEN = [status for status in JobStatus if not status.terminal]


@dataclasses.dataclass
class Report:
    checked: int = 0
    requeued: int = 0
    rescheduled: int = 0
    recovered_from_crash: int = 0
    quarantined: int = 0
    uploads_completed: int = 0
    uploads_expired: int = 0
    closed: int = 0
    reindexed: int = 0  # records the job index was rebuilt from
    stale_markers: int = 0
    missing_leases: int = 0  # processing jobs whose lease is gone, not yet for a lease period
    skipped: bool = False

    @property
    def acted(self) -> bool:
        """It changed a job (closing stale markers aside): worth a warning in the log."""
        quiet = ("checked", "closed", "reindexed", "missing_leases", "skipped")
        return any(getattr(self, f.name) for f in dataclasses.fields(self) if f.name not in quiet)

    def __str__(self) -> str:
        if self.skipped:
            return "another recovery pass is running; skipped"
        return ", ".join(
            f"{f.name.replace('_', ' ')}: {getattr(self, f.name)}"
            for f in dataclasses.fields(self)
            if f.name != "skipped"
        )


def reconcile(services: Services, full: bool = False) -> Report:
    """One recovery pass, unless another process is running one; `full` also recounts the
    finished jobs (every record is read: the hourly pass and the command do it)."""
    state, inflight = services.state, services.inflight
    report = Report()
    if not state.set_if_absent(keys.RECOVERY_LOCK, "1", keys.RECOVERY_LOCK_TTL):
        report.skipped = True
        return report
    queued = _QueuedTasks(services)
    open_jobs: list[tuple[str, JobStatus]] = []
    try:
        for tenant, job_id in services.records.active():
            report.checked += 1
            try:
                job = services.records.get(job_id, tenant)
            except NotFound:
                continue  # a marker whose record is being written right now
            if not job.status.terminal:
                open_jobs.append((tenant, job.status))
            gone = None
            if job.status is JobStatus.PROCESSING:
                gone = inflight.lease_gone_for(job_id)
                if gone is None:
                    continue  # a live worker has it
            elif inflight.holder(job_id):
                continue  # a live worker has it
            marker = inflight.marker(job_id)
            if marker is not None:
                if queued.holds(marker):
                    continue  # the queue has it
                if inflight.marker(job_id) != marker or inflight.holder(job_id):
                    continue  # it moved on while we looked
                inflight.dequeued(job_id)
                report.stale_markers += 1
                log.warning(
                    "job %s: its task %s is not in the queue; marker removed",
                    job_id,
                    marker["task"],
                )
            if seconds_since(job.updated_at) < services.settings.reconcile_grace:
                continue
            if gone is not None and gone < services.settings.lease_seconds:
                report.missing_leases += 1  # dead, or cut off by an outage: look again
                continue
            try:
                _recover(services, job, report)
            except PdfqError as exc:
                log.warning("job %s: not recovered this time: %s", job.id, exc.message)
        services.records.recount(open_jobs, OPEN)
        if full:
            recount_all(services)
        state.purge_expired()
        _rebuild_index(services, report)
    finally:
        state.delete(keys.RECOVERY_LOCK)
    if report.acted:
        log.warning("recovery: %s", report)
    return report


def _rebuild_index(services: Services, report: Report):
    """Rebuild the job index if it was never built here, under its own (longer) lock."""
    state = services.state
    if not reindex.needed(services.records):
        return
    if not state.set_if_absent(keys.REINDEX_LOCK, "1", keys.REINDEX_LOCK_TTL):
        return
    try:
        rebuilt = reindex.rebuild(services.records, services.settings.reconcile_grace)
    finally:
        state.delete(keys.REINDEX_LOCK)
    report.reindexed = rebuilt.records
    changed = rebuilt.added or rebuilt.removed  # a fresh bucket's first pass is no news
    level = logging.WARNING if changed else logging.INFO
    log.log(level, "recovery: job index rebuilt (%s)", rebuilt)


class _QueuedTasks:
    """Whether a marked task is really queued or scheduled; the queue is read once a pass,
    and only if some job is marked."""

    def __init__(self, services: Services):
        self._services = services
        self._ids: set[str] | None = None

    def holds(self, marker: dict) -> bool:
        grace = self._services.settings.reconcile_grace
        at = marker.get("at")  # (a marker without one is checked)
        if marker["task"] == HUEY_RETRY or (at and seconds_since(at) < grace):
            return True  # a retry's marker expires on its own; a young one may be in transit
        if self._ids is None:
            self._ids = self._services.queue.task_ids()
        return marker["task"] in self._ids


def recount_all(services: Services):
    """Counters of finished jobs put right from every record (one read per record)."""
    records = services.records
    finished = []
    for tenant, job_id in records.listed():
        try:
            status = records.get(job_id, tenant).status
        except NotFound:
            continue
        if status.terminal:
            finished.append((tenant, status))
    records.recount(finished, [s for s in JobStatus if s.terminal])


def _recover(services: Services, job: Job, report: Report):
    lifecycle, settings = services.lifecycle, services.settings
    if job.status is JobStatus.AWAITING_UPLOAD:
        _expire_upload(services, job, report)
    elif job.status.terminal:
        lifecycle.close(job)
        report.closed += 1
    elif job.status is JobStatus.QUEUED:
        lifecycle.requeue(job)
        report.requeued += 1
        log.warning("job %s: was not in the queue; re-enqueued", job.id)
    elif job.status is JobStatus.SCHEDULED:
        lifecycle.requeue(job)
        report.rescheduled += 1
        log.warning(
            "job %s: was not in the schedule; scheduled again for %s", job.id, job.scheduled_for
        )
    elif job.status is JobStatus.PROCESSING:
        job = lifecycle.recover_crashed(job, settings.max_worker_crashes)
        services.inflight.forget_missing_lease(job.id)
        if job.status is JobStatus.FAILED:
            report.quarantined += 1
            log.warning("job %s: quarantined after repeated worker deaths", job.id)
        else:
            report.recovered_from_crash += 1
            log.warning(
                "job %s: its run ended without a lease (%s); re-enqueued",
                job.id,
                job.attempts[-1]["outcome"],
            )


def _expire_upload(services: Services, job: Job, report: Report):
    """An upload whose URLs expired: complete it if the file is there, else end the job."""
    settings = services.settings
    if seconds_since(job.created_at) < settings.presign_expiry + settings.reconcile_grace:
        return
    try:
        _, queued = services.lifecycle.complete_upload(job, by="recovery")
    except NotUploaded:
        services.lifecycle.expire_upload(job)
        report.uploads_expired += 1
        log.warning("job %s: nothing was uploaded before its URLs expired; failed", job.id)
        return
    if queued:
        report.uploads_completed += 1
        log.warning("job %s: its upload arrived but was never completed; queued", job.id)
