"""The only place a job changes status: one method per move, each complete.

Every method makes the move (JobRecords.transition: a conditional record write, or for a
run's transient moves the live copy only), appends the attempt when a run or a decision ends,
and does all of its cleanup: the lease, the enqueue marker, the cancel request, the job's
task on the queue, and the webhook a job that ended on its own owes (not a cancel). The
webhook owed is written with the end itself, so it survives any loss of the state store;
its delivery task is queued once per end, whoever notices it first (the ending worker, or
recovery). Views, tasks, recovery and the CLI call these; nothing else moves a job.

    born        create (awaiting_upload, or queued with its task), discard
    uploaded    complete_upload (-> queued), refuse, expire_upload (-> failed)
    run         start (-> processing), succeed, fail, stop_canceled, retry_later (-> scheduled),
                interrupt (-> queued)
    controlled  reprocess (-> queued or scheduled), cancel (-> canceled, or a request),
                erase (-> deleted: a tombstone, every object of the job removed)
    added to    ask_outputs, outputs_made (a succeeded job stays succeeded: core/jobs/added.py)
    recovered   requeue (its task again), recover_crashed (-> queued, or failed), close
"""

from __future__ import annotations

import contextlib
import logging
import time

from core import keys, webhooks
from core.adapters.queue import ADD_OUTPUTS, DELIVER_WEBHOOK, EXTRACT_DOCUMENT, JobQueue
from core.clock import utc_after
from core.errors import (
    Conflict,
    JobDeleted,
    NotFound,
    NotUploaded,
    ObjectMissing,
    PdfqError,
    QueueUnavailable,
    UploadExpired,
    UploadRejected,
    WorkerCrashed,
    error_for_code,
)
from core.jobs import added, batch_counts, carried, erasure, options, pdfcheck, retention
from core.jobs.inflight import HUEY_RETRY, InFlight
from core.jobs.model import WAITING, Job, JobStatus, attempt
from core.jobs.records import JobRecords
from core.settings import Settings

log = logging.getLogger("pdfq.lifecycle")
MAX_DELIVERIES = 50  # webhook deliveries kept on the record
# What a tombstone keeps of a job: who and when, never what (the file's name, its hash, the
# options, the callback URL and its log, the error's words, the result summary).
_ERASED = {
    "filename": "",
    "sha256": None,
    "options": {},
    "callback_url": None,
    "source_url": None,
    "source_object": None,
    "deliveries": [],
    "warnings": [],
    "error": None,
    "result": None,
    "added": None,
}
_REFUSED = {error.code for error in pdfcheck.REFUSALS}


class Deferred(Exception):
    """A live worker holds the job's lease; this delivery of its task should look again later."""

    def __init__(self, holder: str, delay: int):
        super().__init__(f"held by {holder}")
        self.delay = delay


class Lifecycle:
    def __init__(
        self, records: JobRecords, inflight: InFlight, queue: JobQueue, settings: Settings
    ):
        self.records = records
        self.inflight = inflight
        self.queue = queue
        self.settings = settings

    # --- a job is born ---

    def create(
        self,
        *,
        tenant: str,
        filename: str,
        size: int,
        job_id: str | None = None,
        awaiting_upload: bool = False,
        sha256: str | None = None,
        options: dict | None = None,
        callback_url: str | None = None,
        engine: str | None = None,
        carried: bool = False,
        created_at: str | None = None,
        source_url: str | None = None,
        batch_id: str | None = None,
        source_object: dict | None = None,
    ) -> Job:
        """A new job: awaiting its upload, or queued at once (its PDF is stored already, or
        its worker fetches it from `source_url`).

        A queued job whose task cannot be enqueued is removed again, so a refused request
        leaves no job behind. WriteConflict when a job with `job_id` exists. `carried`: an
        upload's job whose object will carry its record (core/jobs/carried.py): nothing is
        written to storage until the upload is completed.
        """
        status = JobStatus.AWAITING_UPLOAD if awaiting_upload else JobStatus.QUEUED
        job = self.records.create(
            job_id=job_id or keys.new_job_id(),
            tenant=tenant,
            filename=filename,
            size=size,
            status=status,
            sha256=sha256,
            options=options,
            callback_url=callback_url,
            engine=engine,
            durable=not carried,
            created_at=created_at,
            source_url=source_url,
            batch_id=batch_id,
            source_object=source_object,
        )
        if status is JobStatus.QUEUED:
            try:
                self._enqueue(job)
            except PdfqError:
                self.discard(job)
                raise
        return job

    def discard(self, job: Job):
        """Remove a job that never became real (its upload was refused after creation)."""
        try:
            self.records.delete(job)
        except PdfqError as exc:
            log.warning("job %s: could not remove its record: %s", job.id, exc.message)

    def complete_upload(self, job: Job, by: str) -> tuple[Job, bool]:
        """Check the object at the job's source key and queue the job: (job, True) if this
        call queued it. A job already past awaiting_upload comes back as it is, with False.

        NotUploaded (409) while nothing is there; UploadRejected (422) when the object is
        empty, too large or not a PDF: it is deleted and the job fails with that code.
        Of any number of callers racing (the client, the bucket's event), one queues the job.
        """
        if job.status is not JobStatus.AWAITING_UPLOAD:
            return _as_decided(job), False
        storage = self.records.storage
        try:
            size, etag = pdfcheck.check_object(
                storage, job.source_key, self.settings.max_upload_bytes
            )
        except ObjectMissing:
            raise NotUploaded(
                f"Nothing is uploaded for job {job.id} yet: send the file to its upload URL first."
            ) from None
        except pdfcheck.REFUSALS as problem:
            job = self.refuse(job, problem, by)
            with contextlib.suppress(PdfqError):  # the lifecycle rule removes it otherwise
                storage.delete(job.source_key)
            return _as_decided(job), False
        try:
            job = self._move(
                job, JobStatus.QUEUED, expect=JobStatus.AWAITING_UPLOAD, size=size, source_etag=etag
            )
        except Conflict:  # another caller completed (or refused) it first
            return _as_decided(self.records.get(job.id, job.tenant)), False
        try:
            self._enqueue(job)
        except QueueUnavailable:
            self._hand_back(job)
            raise
        return job, True

    def adopt_upload(self, tenant: str, job_id: str, by: str) -> tuple[Job, bool]:
        """Complete the upload of a job the state store no longer knows (lost with its data
        before the upload was completed), from the record its object carries: as
        `complete_upload`. NotFound when there is no such object, or it carries no job pdfq
        signed for it."""
        key = keys.source_key(tenant, job_id)
        try:
            head = self.records.storage.head(key)
        except ObjectMissing:
            raise NotFound(f"No job {job_id!r}.") from None
        secret = self.settings.options_secret
        job = carried.opened(head.get("Metadata") or {}, key, tenant, job_id, secret)
        if job is None:
            raise NotFound(f"No job {job_id!r}.")
        log.warning("job %s: completed from the record its upload carries", job_id)
        return self.complete_upload(job, by)

    def refuse(self, job: Job, error: PdfqError, by: str) -> Job:
        """Fail an awaiting_upload job with `error`'s code; one decided meanwhile stays as it is."""
        try:
            return self._end(
                job, JobStatus.FAILED, by, error, expect=JobStatus.AWAITING_UPLOAD, notify=True
            )
        except Conflict:
            return self.records.get(job.id, job.tenant)

    def expire_upload(self, job: Job) -> Job:
        """Fail an upload that never arrived before its URLs expired (recovery)."""
        return self._end(
            job,
            JobStatus.FAILED,
            "recovery",
            UploadExpired(),
            expect=JobStatus.AWAITING_UPLOAD,
            notify=True,
        )

    # --- a worker runs it ---

    def start(self, job: Job, worker: str) -> Job | None:
        """Take the job's lease and mark it processing; None if it was canceled or re-run
        meanwhile. Raises Deferred while another live worker holds the lease."""
        if not self.inflight.acquire(job.id, worker):
            raise Deferred(self.inflight.holder(job.id) or "?", self.inflight.lease_seconds)
        self.inflight.started(job.id)  # this run is also the retry an outage's note awaited
        try:
            return self._move(
                job, JobStatus.PROCESSING, pages_done=0, pages_total=None, error=None, worker=worker
            )
        except Conflict as exc:  # canceled (or re-run) between our read and our write
            log.info("job %s: not started: %s", job.id, exc.message)
            self.inflight.release(job.id, worker)
            return None

    def succeed(self, job: Job, worker: str, **outcome) -> Job:
        """The run ended with a result (`outcome`: pages, warnings, summary, engine...).
        Conflict when the job moved meanwhile (canceled, erased, or ended by another run):
        the caller's result is not the job's."""
        end = JobStatus.SUCCEEDED
        return _patiently(job, lambda: self._end(job, end, worker, notify=True, **_run(outcome)))

    def fail(self, job: Job, error: PdfqError, worker: str) -> Job:
        """The run ended with `error`, whose stable code the job keeps. An outage (a retryable
        error, its retries spent) is written once, not waited out: when storage is still
        down, the write fails and the caller hands the job back (`hand_back`)."""

        def end():
            return self._end(job, JobStatus.FAILED, worker, error, notify=True, **_run({}))

        return end() if error.retryable else _patiently(job, end)

    def hand_back(self, job: Job, error: PdfqError, worker: str):
        """The run's last retry met an outage that also stopped its failure being written:
        the job waits `queued` (transient) for recovery to run it again, the attempt booked
        as the outage, never as a worker death."""
        self.inflight.note_outage(job.id, error.code)
        self._move(job, JobStatus.QUEUED, attempts=_appended(attempt(worker, error.code)))
        log.warning("job %s: %s outlasted its retries; recovery runs it again", job.id, error.code)

    def stop_canceled(self, job: Job, worker: str) -> Job:
        """The run was stopped by a cancel request; how far it got stays on the record.

        Whoever asked may have ended the job already (an erase does, without waiting): then
        this end is refused before it writes anything, where the write's refusal would come
        only after the job was listed as canceled again for a moment, after its erasure."""
        now = self.records.get(job.id, job.tenant, tombstone=True)
        if now.status is not JobStatus.PROCESSING:
            raise Conflict(f"Job {job.id} is {now.status.value}, no longer processing.")
        done, total = self.inflight.progress(job)
        progress = {"pages_done": done, "pages_total": total}
        return self._end(job, JobStatus.CANCELED, worker, **_run(progress))

    def retry_later(self, job: Job, error: PdfqError, worker: str, delay: float):
        """A retryable failure: the job waits in `scheduled` for Huey's retry in `delay` s."""
        eta = utc_after(delay)
        try:
            ttl = int(delay) + keys.RETRY_MARKER_GRACE
            self.inflight.mark_enqueued(job.id, HUEY_RETRY, eta, ttl=ttl)
        except PdfqError:  # the state store is down: recovery checks the job after its eta
            log.warning("job %s: could not mark the retry in the state store", job.id)
        try:
            self._move(
                job,
                JobStatus.SCHEDULED,
                error=error.to_dict(),
                scheduled_for=eta,
                attempts=_appended(attempt(worker, error.code)),
            )
        except PdfqError:
            log.warning("job %s: could not record the retry (%s)", job.id, error.code)
            self.inflight.note_outage(job.id, error.code)
        self.inflight.release(job.id, worker)

    def interrupt(self, job: Job):
        """The worker is stopping mid-job (SIGTERM): the job goes back to the queue now."""
        if job.status is not JobStatus.PROCESSING:
            return
        self.inflight.drop_lease(job.id)  # ours: the next worker may take it at once
        job = self._move(
            job, JobStatus.QUEUED, attempts=_appended(attempt(job.worker or "?", "interrupted"))
        )
        self._enqueue(job)
        log.warning("job %s: interrupted by shutdown; re-enqueued", job.id)

    # --- people control it ---

    def reprocess(
        self,
        job: Job,
        *,
        eta: str | None,
        new_options: dict | None = None,
        callback_url: str | None = None,
    ) -> Job:
        """Queue (or schedule for `eta`) a job that is finished or still waiting, with new
        options; its old task, if it is still waiting, never runs."""
        if job.status in (JobStatus.PROCESSING, JobStatus.AWAITING_UPLOAD):
            what = "running" if job.status is JobStatus.PROCESSING else "waiting for its upload"
            raise Conflict(f"Job {job.id} is {what}; it can be re-run once it has finished.")
        changes: dict = {}
        try:
            fetched = job.source_url or job.source_object
            if not (fetched and not job.size):  # a URL not fetched yet is fetched again
                self.records.storage.head(job.source_key)
        except ObjectMissing:
            if fetched:  # its copy expired: the run fetches it again
                changes["size"] = 0
            elif job.queued_at is None:  # canceled or refused before any PDF was accepted
                raise Conflict(
                    f"Job {job.id} never had a PDF accepted; there is nothing to re-run."
                ) from None
            else:
                raise retention.source_expired(job, self.settings.source_retention_days) from None
        changes |= {
            "options": options.merged(job.options, new_options or {}, self.settings),
            "error": None,
            "pages_done": None,
            "pages_total": None,
            "warnings": [],
            "scheduled_for": eta,
        }
        if callback_url:
            changes["callback_url"] = callback_url
        old_task = self.inflight.enqueued_task(job.id) if job.status in WAITING else None
        to = JobStatus.SCHEDULED if eta else JobStatus.QUEUED
        job = self._move(job, to, expect=job.status, **changes)
        self.inflight.clear_cancel(job.id)
        if old_task and old_task != HUEY_RETRY:  # a retry cannot be revoked: the worker skips it
            self.queue.revoke(old_task)
        # If this fails (503), the record already says queued/scheduled: recovery enqueues it.
        self._enqueue(job, eta)
        log.info("job %s: re-run %s", job.id, f"scheduled for {eta}" if eta else "queued")
        return job

    def cancel(self, job: Job) -> tuple[Job, bool]:
        """(job, True) when it ended canceled now; (job, False) when its worker is stopping it."""
        for _ in range(3):
            if job.status.terminal:
                raise Conflict(f"Job {job.id} is already {job.status.value}; nothing to cancel.")
            if job.status is JobStatus.PROCESSING and self.inflight.holder(job.id):
                self.inflight.request_cancel(job.id)  # the worker stops at its next page
                return job, False
            task = self.inflight.enqueued_task(job.id)
            try:
                job = self._end(job, JobStatus.CANCELED, "api", expect=job.status)
            except Conflict:
                job = self.records.get(job.id, job.tenant)  # it moved (started?): look again
                continue
            # Asked even so: a worker may run the job unseen (the state store lost its live
            # copy and lease); it stops at its next page, and its end finds the job canceled.
            self.inflight.request_cancel(job.id)
            if task and task != HUEY_RETRY:
                self.queue.revoke(task)
            return job, True
        raise Conflict(f"Job {job.id} is changing too often to cancel; try again.")

    def erase(self, job: Job) -> tuple[Job, bool]:
        """Erase the job now: (tombstone, True) when this call erased it, (tombstone, False)
        when it was erased before (the object deletes are repeated, to finish an erasure a
        failure cut short). A waiting job is canceled first; a running one is asked to stop
        and ended `canceled` here, without waiting for its worker: the worker stops at its
        next tick, and its end, refused by the record, keeps nothing (as for a run no lease
        showed). The record stays as a tombstone that answers 410 with `deleted_at`."""
        storage = self.records.storage
        for _ in range(3):
            if job.status is not JobStatus.DELETED:
                try:
                    job = self._stopped(job)
                except JobDeleted:  # erased by another caller meanwhile
                    job = self.records.get(job.id, job.tenant, tombstone=True)
                except Conflict:  # it ended or moved meanwhile: look again
                    job = self.records.get(job.id, job.tenant, tombstone=True)
                    continue
            if job.status is JobStatus.DELETED:  # before this call, or by another meanwhile
                erasure.erase_objects(storage, job)
                return job, False
            erasure.forget_dedup(self.records.state, job)  # needs what the tombstone forgets
            try:
                tombstone = self._move(
                    job,
                    JobStatus.DELETED,
                    expect=job.status,
                    attempts=_appended(attempt("api", "deleted")),
                    **_ERASED,
                )
                break
            except Conflict:  # re-run, finished or erased meanwhile: look again
                job = self.records.get(job.id, job.tenant, tombstone=True)
        else:
            raise Conflict(f"Job {job.id} is changing too often to delete; try again.")
        self.inflight.forget(job.id)
        erasure.erase_objects(storage, tombstone)
        self.inflight.request_cancel(job.id)  # any run of it still going stops, writing nothing
        if tombstone.batch_id:
            self._batch_job_ended(tombstone)
        log.info("job %s: erased", job.id)
        return tombstone, True

    def _stopped(self, job: Job) -> Job:
        """The job ended, so that it can be erased: canceled now, a running one too."""
        if job.status.terminal:
            return job
        job, done = self.cancel(job)
        if done:
            return job
        # Its worker has the cancel request; the record ends here, and the worker's own end
        # (canceled, or a result it got to first) is refused by it.
        return self._end(job, JobStatus.CANCELED, "api", expect=JobStatus.PROCESSING)

    # --- recovery puts right what a lost queue or a dead worker left ---

    def requeue(self, job: Job):
        """A waiting job the queue forgot: enqueue it again, at its time if it is scheduled."""
        self._enqueue(job, job.scheduled_for if job.status is JobStatus.SCHEDULED else None)

    def recover_crashed(self, job: Job, max_crashes: int) -> Job:
        """A processing job whose lease expired (its worker died): queue it again, or fail it
        `worker_crashed` once it has been in progress at `max_crashes` worker deaths. A run
        that an outage ended (its worker noted the error) is booked as that error and does
        not count as a death: an outage is not the PDF's fault."""
        outage = self.inflight.outage(job.id)
        lost = attempt(job.worker or "?", outage or "worker_lost")
        attempts = _appended(lost)
        crashes = sum(1 for a in [*job.attempts, lost] if a["outcome"] == "worker_lost")
        if crashes < max_crashes:
            job = self._move(job, JobStatus.QUEUED, attempts=attempts)
            self.inflight.clear_outage(job.id)
            self._enqueue(job)
            return job
        error = WorkerCrashed(
            f"The worker died {crashes} times while this PDF was in progress; "
            "it is not tried again."
        )
        job = self._move(
            job,
            JobStatus.FAILED,
            error=error.to_dict(),
            attempts=attempts,
            webhook_owed=_owed(job, JobStatus.FAILED),
        )
        self.inflight.forget(job.id)
        self.queue_webhook(job)
        return job

    def close(self, job: Job):
        """Remove the open-job marker a terminal job kept (a delete that failed earlier)."""
        self.records.close(job)

    # --- outputs added to a succeeded job (core/jobs/added.py) ---

    def ask_outputs(self, job: Job, outputs: list[str]) -> Job:
        """Record `outputs` as pending on a succeeded job and queue the task that makes them
        (again, if they were pending already: a lost task is replaced by asking again)."""
        expect = JobStatus.SUCCEEDED
        job = self._move(job, expect, expect=expect, added=lambda c: added.pending(c, outputs))
        try:
            self.queue.put(ADD_OUTPUTS, job.tenant, job.id, outputs)
        except PdfqError:
            with contextlib.suppress(PdfqError):  # nothing will make them: not pending
                failed = {name: {"code": "queue_unavailable"} for name in outputs}
                self.outputs_made(job, job.result["key"], [], failed)
            raise
        return job

    def outputs_made(
        self, job: Job, result: str, made: list[str], failed: dict, warnings: list[str] = ()
    ) -> Job:
        """A worker made `made` beside `result` (and could not make `failed`); Conflict when
        the job was re-run or erased meanwhile (the outputs are not its own)."""
        expect = JobStatus.SUCCEEDED
        return self._move(
            job,
            expect,
            expect=expect,
            added=lambda c: added.finished(c, result, made, failed),
            warnings=lambda c: [*c.warnings, *(w for w in warnings if w not in c.warnings)],
        )

    # --- the record keeps what happened to the job's webhook ---

    def record_delivery(self, job: Job, outcome: dict, *, last: bool = False):
        """Append one webhook delivery attempt to the job's log (no status change); once one
        succeeded, or the `last` one failed, the webhook is no longer owed."""

        def logged(current: Job) -> list[dict]:
            return [*current.deliveries, outcome][-MAX_DELIVERIES:]

        settled = outcome.get("ok") or last
        changes = {"webhook_owed": None} if settled else {}
        for _ in range(3):
            try:
                self._move(job, job.status, expect=job.status, deliveries=logged, **changes)
                break
            except Conflict:
                job = self.records.get(job.id, job.tenant)
        else:
            log.warning("job %s: could not record a webhook delivery", job.id)
            return
        if settled:
            with contextlib.suppress(PdfqError):  # recovery finds the record says settled
                self.inflight.webhook_settled(job)

    def queue_webhook(self, job: Job):
        """Put the delivery of the webhook the job owes on the queue, once for this end of it
        (the ending worker and recovery may both notice it is owed)."""
        if not job.webhook_owed:
            return
        try:
            if self.inflight.webhook_queued(job):
                self.queue.put(DELIVER_WEBHOOK, job.tenant, job.id, job.webhook_owed)
        except PdfqError as exc:
            with contextlib.suppress(PdfqError):
                self.inflight.webhook_not_queued(job)
            log.warning("job %s: webhook not queued yet (%s); recovery will", job.id, exc.message)

    # --- the steps every move shares ---

    def _move(self, job: Job, to: JobStatus, **changes) -> Job:
        return self.records.transition(job, to, **changes)

    def _end(
        self,
        job: Job,
        to: JobStatus,
        by: str,
        error: PdfqError | None = None,
        *,
        expect: JobStatus | None = None,
        notify: bool = False,
        **changes,
    ) -> Job:
        """A terminal move with its attempt; then nothing of the job stays in flight, and, with
        `notify` (a run's end, a refused or expired upload: not a cancel, which its caller
        asked for), the job's webhook is queued."""
        outcome = error.code if error else to.value
        if error:
            changes["error"] = error.to_dict()
        if notify:
            changes["webhook_owed"] = lambda current: _owed(current, to)
        job = self._move(
            job, to, expect=expect, attempts=_appended(attempt(by, outcome)), **changes
        )
        self.inflight.forget(job.id)
        if notify:
            self.queue_webhook(job)
        if job.batch_id:
            self._batch_job_ended(job)
        return job

    def _batch_job_ended(self, job: Job):
        """The last of a batch's jobs to end queues the batch's end (core/jobs/batch_counts.py)."""
        try:
            batch_counts.check_end(self.records.state, self.queue, job.tenant, job.batch_id)
        except PdfqError as exc:  # the batch's next job to end, or recovery, looks again
            log.warning("job %s: batch %s not checked (%s)", job.id, job.batch_id, exc.message)

    def _enqueue(self, job: Job, eta: str | None = None):
        """Put the job's task on the queue (at `eta`) and mark it enqueued (before: with an
        immediate queue the task runs inside enqueue, and takes the marker off)."""
        task = self.queue.task(EXTRACT_DOCUMENT, job.source_key, eta=eta)
        self.inflight.mark_enqueued(job.id, task.id, eta)
        try:
            if eta:
                self.queue.enqueue(task)
            else:  # it waits for its tenant's turn (core/adapters/fairqueue.py)
                self.queue.enqueue_job(job.tenant, task)
        except Exception:
            with contextlib.suppress(PdfqError):
                self.inflight.dequeued(job.id)
            raise

    def _hand_back(self, job: Job):
        """The queue is down: put the job back to awaiting_upload, so completing again works."""
        try:
            self._move(job, JobStatus.AWAITING_UPLOAD, expect=JobStatus.QUEUED)
        except PdfqError as exc:
            log.warning("job %s: queued but not enqueued (%s)", job.id, exc.message)


# How long a worker keeps trying to record the end of a run through an outage (storage, or
# the state store holding a record's lock) before handing it to Huey's retries: a blip of
# Redis or storage must not throw away a finished extraction.
FINAL_WRITE_PATIENCE = 60


def _patiently(job: Job, write):
    """`write()`, tried again (1, 2, 4... s apart) while it fails with a retryable error,
    for up to FINAL_WRITE_PATIENCE seconds."""
    deadline, pause = time.monotonic() + FINAL_WRITE_PATIENCE, 1.0
    while True:
        try:
            return write()
        except PdfqError as exc:
            if not exc.retryable or time.monotonic() + pause > deadline:
                raise
            log.warning("job %s: could not record the end of its run yet: %s", job.id, exc.message)
            time.sleep(pause)
            pause = min(pause * 2, 10)


def _run(changes: dict) -> dict:
    """A run's end: made only while the job is still running (not canceled, erased, re-run
    or ended by another run meanwhile: then Conflict, and the run's result is not kept)."""
    return {**changes, "expect": JobStatus.PROCESSING}


def _owed(job: Job, to: JobStatus) -> str | None:
    """The webhook event a job ending in `to` owes its callback URL, if it has one."""
    return webhooks.EVENTS.get(to.value) if job.callback_url else None


def _appended(entry: dict):
    """A change that appends `entry` to the attempts of the record it is applied to."""
    return lambda current: [*current.attempts, entry]


def _as_decided(job: Job) -> Job:
    """The job, or UploadRejected again if the checks at the door refused it."""
    code = (job.error or {}).get("code")
    if job.status is JobStatus.FAILED and code in _REFUSED:
        raise UploadRejected(error_for_code(code)(job.error.get("message")))
    return job
