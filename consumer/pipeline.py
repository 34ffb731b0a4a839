"""One job from source object to stored results: lease, download, extract, write, record.

The worker holds the job's lease while it runs and renews it on every tick of the sandbox,
so a worker that dies leaves an expiring lease behind for consumer/recovery.py to find.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import tempfile
import threading
import time
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path

from consumer import quality, sandbox
from consumer.extract import Extraction
from core import control, keys, options, services
from core.errors import Conflict, NotFound, PdfqError, SourceMissing, TooLarge
from core.jobs import Job, JobStatus, JobStore, utc_after
from core.settings import get_settings
from core.storage import ObjectMissing, Storage

log = logging.getLogger("pdfq.consumer")
ENGINE = "pdfminer.six"
RUNNABLE = (JobStatus.QUEUED, JobStatus.SCHEDULED, JobStatus.PROCESSING)

# Jobs this process was told to give up (SIGTERM in thread workers): their threads must
# stop renewing the lease, since the job has been handed back to the queue.
_interrupted: set[str] = set()


class LeaseLost(Exception):
    """Another worker took the job over (ours was presumed dead); stop without writing."""


class Deferred(Exception):
    """A live worker holds the job's lease; this delivery should look again later."""

    def __init__(self, holder: str, delay: int):
        super().__init__(f"held by {holder}")
        self.delay = delay


def worker_name() -> str:
    """host:pid:thread, so leases and attempts name the worker."""
    return f"{socket.gethostname()}:{os.getpid()}:{threading.current_thread().name}"


def process(
    source_key: str, *, final_attempt: bool = True, retry_delay: float = 0
) -> JobStatus | None:
    """Run the job whose source is `source_key`; returns its new status (None if skipped).

    Terminal errors end the job as failed at once. Retryable errors are re-raised so Huey
    retries with its delay and backoff, unless this was the final attempt. Raises Deferred
    when another live worker holds the job.
    """
    tenant, job_id = keys.parse_source_key(source_key)
    store, inflight = services.jobs(), services.inflight()
    try:
        job = store.get(job_id, tenant)
    except NotFound:
        log.warning("job %s: no record for %s; dropping the task", job_id, source_key)
        return None
    if job.status not in RUNNABLE:
        # A duplicate delivery of a task whose job already ended: running it again changes nothing.
        log.info("job %s: already %s; skipping", job_id, job.status.value)
        return None

    worker = worker_name()
    if not inflight.acquire(job_id, worker):
        raise Deferred(inflight.holder(job_id) or "?", inflight.lease_seconds)
    inflight.dequeued(job_id)
    _interrupted.discard(job_id)
    try:
        return _process_leased(store, job, worker, final_attempt, retry_delay)
    except LeaseLost:
        log.warning("job %s: lease lost to another worker; leaving the job to it", job_id)
        return None
    finally:
        if job_id not in _interrupted:
            inflight.release(job_id, worker)


def _process_leased(
    store: JobStore, job: Job, worker: str, final_attempt: bool, retry_delay: float
):
    try:
        job = store.transition(
            job, JobStatus.PROCESSING, pages_done=0, pages_total=None, error=None, worker=worker
        )
    except Conflict as exc:  # canceled (or re-run) between our read and our write
        log.info("job %s: not started: %s", job.id, exc.message)
        return None
    log.info("job %s: processing %s", job.id, job.source_key)
    try:
        extraction, timings = _run(store, job, _heartbeat(job.id, worker))
    except control.JobCanceled:  # issue 5: POST .../cancel while it ran
        return _canceled(store, job, worker)
    except PdfqError as error:
        if error.retryable and not final_attempt:
            log.warning("job %s: %s (%s); will retry", job.id, error.code, error.message)
            _hand_back(store, job, error, worker, retry_delay)
            raise
        log.warning("job %s: failed with %s: %s", job.id, error.code, error.message)
        store.fail(job, error, worker)
        services.inflight().forget(job.id)
        return JobStatus.FAILED

    summary = _summary(extraction, timings)
    store.transition(
        job,
        JobStatus.SUCCEEDED,
        pages_total=len(extraction.pages),
        pages_done=len(extraction.pages),
        warnings=quality.warnings(extraction),
        result=summary,
        attempts=[*job.attempts, store.attempt(worker, "succeeded")],
    )
    services.inflight().forget(job.id)
    log.info(
        "job %s: succeeded, %d pages, %d chars", job.id, len(extraction.pages), summary["chars"]
    )
    return JobStatus.SUCCEEDED


def _heartbeat(job_id: str, worker: str) -> Callable[[], None]:
    """A tick for the sandbox: renew the lease every third of its length."""
    inflight, state = services.inflight(), services.state()
    every = inflight.lease_seconds / 3
    last = time.monotonic()

    def tick():
        nonlocal last
        if job_id in _interrupted:
            raise LeaseLost()
        if control.cancel_requested(state, job_id):  # after each page and every poll
            raise control.JobCanceled()
        if time.monotonic() - last < every:
            return
        last = time.monotonic()
        try:
            still_ours = inflight.renew(job_id, worker)
        except PdfqError as exc:  # Redis down: keep working, the record is what counts
            log.warning("job %s: could not renew the lease: %s", job_id, exc.message)
            return
        if not still_ours:
            raise LeaseLost()

    return tick


def _run(store: JobStore, job: Job, tick) -> tuple[Extraction, dict[str, float]]:
    storage = store.storage
    settings = get_settings()
    timings: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="pdfq-") as folder:
        path = Path(folder) / "source.pdf"
        started = time.monotonic()
        try:
            with open(path, "wb") as fp:
                storage.download_to(job.source_key, fp)
        except ObjectMissing:
            raise SourceMissing() from None
        timings["download"] = time.monotonic() - started
        # Presigned uploads are bounded only by real S3's policy checks: check again here.
        size, limit = path.stat().st_size, settings.max_upload_bytes
        if size > limit:
            raise TooLarge(f"The PDF is {size} bytes; the limit is {limit}.")

        def on_progress(done: int, total: int):
            store.set_progress(job.id, done, total)

        extraction = sandbox.run(
            path,
            timeout=settings.extract_timeout,
            memory_mb=settings.extract_memory_mb,
            password=options.password(job.options, settings),
            options=job.options,
            on_progress=on_progress,
            on_tick=tick,
        )
        timings["extract"] = extraction.seconds

    started = time.monotonic()
    write_results(storage, job, extraction)
    timings["upload"] = time.monotonic() - started
    return extraction, timings


def write_results(storage: Storage, job: Job, extraction: Extraction):
    """text.txt, pages.jsonl and result.json; the same job always writes the same keys."""
    tenant, job_id = job.tenant, job.id
    storage.put_bytes(
        keys.result_key(tenant, job_id, "text.txt"),
        extraction.text.encode("utf-8"),
        "text/plain; charset=utf-8",
    )
    lines = (json.dumps(quality.page_record(p), ensure_ascii=False) for p in extraction.pages)
    storage.put_bytes(
        keys.result_key(tenant, job_id, "pages.jsonl"),
        "".join(line + "\n" for line in lines).encode("utf-8"),
        "application/x-ndjson; charset=utf-8",
    )
    storage.put_json(
        keys.result_key(tenant, job_id, "result.json"),
        {
            "job_id": job_id,
            "page_count": len(extraction.pages),
            "chars": len(extraction.text),
            "metadata": extraction.metadata,
            "encrypted": extraction.encrypted,
            "warnings": quality.warnings(extraction),
            **quality.summary(extraction),
            "engine": ENGINE,
            "engine_version": version("pdfminer.six"),
        },
    )


def _summary(extraction: Extraction, timings: dict[str, float]) -> dict:
    return {
        "page_count": len(extraction.pages),
        "chars": len(extraction.text),
        "metadata": extraction.metadata,
        "encrypted": extraction.encrypted,
        "engine": ENGINE,
        "seconds": {name: round(value, 3) for name, value in timings.items()},
    }


def _canceled(store: JobStore, job: Job, worker: str) -> JobStatus:
    """The job was canceled while it ran: the child is already killed; nothing is written."""
    done, total = store.progress(job)  # how far it got, kept on the record
    store.transition(
        job,
        JobStatus.CANCELED,
        pages_done=done,
        pages_total=total,
        attempts=[*job.attempts, store.attempt(worker, "canceled")],
    )
    services.inflight().forget(job.id)
    control.clear_cancel(services.state(), job.id)
    log.info("job %s: canceled while processing", job.id)
    return JobStatus.CANCELED


def _hand_back(store: JobStore, job: Job, error: PdfqError, worker: str, retry_delay: float):
    """Record a retryable failure; the job waits in `scheduled` for Huey's retry."""
    # Huey schedules the retry retry_delay seconds from now (then multiplies the delay).
    eta = utc_after(retry_delay)
    try:
        services.inflight().mark_enqueued(job.id, "huey-retry", eta)
        store.transition(
            job,
            JobStatus.SCHEDULED,
            error=error.to_dict(),
            scheduled_for=eta,
            attempts=[*job.attempts, store.attempt(worker, error.code)],
        )
    except PdfqError:
        log.warning("job %s: could not record the retry (%s)", job.id, error.code)


def interrupted(source_key: str, enqueue: Callable[[Job], None]):
    """The worker is stopping mid-job (SIGTERM): hand the job back to the queue now."""
    tenant, job_id = keys.parse_source_key(source_key)
    _interrupted.add(job_id)
    store, inflight = services.jobs(), services.inflight()
    job = store.get(job_id, tenant)
    if job.status is not JobStatus.PROCESSING:
        return
    inflight.drop_lease(job_id)  # ours: the next worker may take it at once
    job = store.transition(
        job,
        JobStatus.QUEUED,
        attempts=[*job.attempts, store.attempt(job.worker or "?", "interrupted")],
    )
    enqueue(job)
    log.warning("job %s: interrupted by shutdown; re-enqueued", job_id)
