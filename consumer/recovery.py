"""Recovery: re-enqueue what the queue forgot and what dead workers dropped.

One pass over the durable list of open jobs (the `active/` markers in S3):
- queued or scheduled, with no enqueue marker and no lease: the queue lost it (Redis
  flushed, restarted without persistence, failed over): enqueue it again, at its time;
- processing, with no lease: its worker died (SIGKILL, OOM, a dyno killed): put it back,
  or, once it has been in progress at N worker deaths, fail it with `worker_crashed`;
- awaiting_upload past its upload URLs' expiry (PRESIGN_EXPIRY) and the grace: the file
  arrived but nobody completed it (lost event, client gone): complete it; nothing arrived:
  fail it `upload_expired`, so abandoned uploads do not count against the tenant's limit;
- terminal: a marker left behind by a failed delete: remove it.
Jobs changed in the last RECONCILE_GRACE_SECONDS are left alone (they may be mid-enqueue).

Run every minute by a Huey periodic task, and on demand with `python -m consumer.recovery`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import sys
from collections.abc import Callable

from core import keys, services
from core.errors import NotFound, NotUploaded, PdfqError, UploadExpired, WorkerCrashed
from core.jobs import Job, JobStatus, parse_time
from core.settings import get_settings

log = logging.getLogger("pdfq.recovery")
LOCK_KEY = "recovery-lock"


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
    skipped: bool = False

    @property
    def acted(self) -> bool:
        """It changed a job (closing stale markers aside): worth a warning in the log."""
        quiet = ("checked", "closed", "skipped")
        return any(getattr(self, f.name) for f in dataclasses.fields(self) if f.name not in quiet)

    def __str__(self) -> str:
        if self.skipped:
            return "another recovery pass is running; skipped"
        return ", ".join(
            f"{f.name.replace('_', ' ')}: {getattr(self, f.name)}"
            for f in dataclasses.fields(self)
            if f.name != "skipped"
        )


def reconcile(enqueue: Callable[..., None], lock_seconds: int = 50) -> Report:
    """One recovery pass; `enqueue(job, eta=None)` puts a job on the queue."""
    state, store, inflight = services.state(), services.jobs(), services.inflight()
    settings = get_settings()
    report = Report()
    if not state.set_if_absent(LOCK_KEY, "1", lock_seconds):
        report.skipped = True
        return report
    try:
        now = dt.datetime.now(dt.UTC)
        for tenant, job_id in store.active():
            report.checked += 1
            if inflight.is_enqueued(job_id) or inflight.holder(job_id):
                continue  # the queue or a live worker has it: no need to read the record
            try:
                job = store.get(job_id, tenant)
            except NotFound:
                continue  # a marker whose record is being written right now
            grace = settings.reconcile_grace
            if (now - parse_time(job.updated_at)).total_seconds() < grace:
                continue
            try:
                if job.status is JobStatus.AWAITING_UPLOAD:
                    _expire_upload(job, report, now, settings.presign_expiry + grace)
                else:
                    _recover(job, enqueue, report, settings.max_worker_crashes)
            except PdfqError as exc:
                log.warning("job %s: not recovered this time: %s", job.id, exc.message)
    finally:
        state.delete(LOCK_KEY)
    if report.acted:
        log.warning("recovery: %s", report)
    return report


def _expire_upload(job: Job, report: Report, now: dt.datetime, after_seconds: float):
    """An upload whose URLs expired: complete it if the file is there, else end the job."""
    if (now - parse_time(job.created_at)).total_seconds() < after_seconds:
        return
    from functions.completion import complete_upload  # the web's checks, applied the same way

    store = services.jobs()
    try:
        _, queued = complete_upload(job)
    except NotUploaded:
        error = UploadExpired()
        attempts = [*job.attempts, store.attempt("recovery", error.code)]
        store.transition(
            job,
            JobStatus.FAILED,
            expect=JobStatus.AWAITING_UPLOAD,
            error=error.to_dict(),
            attempts=attempts,
        )
        report.uploads_expired += 1
        log.warning("job %s: nothing was uploaded before its URLs expired; failed", job.id)
        return
    if queued:
        report.uploads_completed += 1
        log.warning("job %s: its upload arrived but was never completed; queued", job.id)


def _recover(job: Job, enqueue, report: Report, max_crashes: int):
    store = services.jobs()
    if job.status.terminal:
        store.storage.delete(keys.active_key(job.tenant, job.id))
        report.closed += 1
    elif job.status is JobStatus.QUEUED:
        enqueue(job)
        report.requeued += 1
        log.warning("job %s: was not in the queue; re-enqueued", job.id)
    elif job.status is JobStatus.SCHEDULED:
        enqueue(job, eta=job.scheduled_for)
        report.rescheduled += 1
        log.warning(
            "job %s: was not in the schedule; scheduled again for %s", job.id, job.scheduled_for
        )
    elif job.status is JobStatus.PROCESSING:
        attempts = [*job.attempts, store.attempt(job.worker or "?", "worker_lost")]
        crashes = sum(1 for a in attempts if a["outcome"] == "worker_lost")
        if crashes >= max_crashes:
            error = WorkerCrashed(
                f"The worker died {crashes} times while this PDF was in progress; "
                "it is not tried again."
            )
            store.transition(job, JobStatus.FAILED, error=error.to_dict(), attempts=attempts)
            services.inflight().forget(job.id)
            report.quarantined += 1
            log.warning("job %s: quarantined after %d worker deaths", job.id, crashes)
        else:
            job = store.transition(job, JobStatus.QUEUED, attempts=attempts)
            enqueue(job)
            report.recovered_from_crash += 1
            log.warning("job %s: its worker died (lease expired); re-enqueued", job.id)


def main() -> int:
    from consumer.tasks import enqueue_job

    try:
        report = reconcile(enqueue_job)
    except PdfqError as exc:
        print(f"reconcile failed: {exc.message}", file=sys.stderr)
        return 1
    print(f"reconcile: {report}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
