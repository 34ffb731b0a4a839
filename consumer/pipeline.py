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
from pathlib import Path

from consumer import engines, parallel, quality, source
from consumer.extract import Extraction, Page
from core import control, dedup, keys, options, services
from core.errors import Conflict, NotFound, PdfqError
from core.jobs import Job, JobStatus, JobStore, utc_after
from core.settings import get_settings
from core.storage import Storage

log = logging.getLogger("pdfq.consumer")
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
        extraction, timings, done = _run(store, job, worker, _heartbeat(job.id, worker))
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

    summary = _summary(extraction, timings, done)
    store.transition(
        job,
        JobStatus.SUCCEEDED,
        pages_total=len(extraction.pages),
        pages_done=len(extraction.pages),
        warnings=quality.warnings(extraction),
        result=summary,
        attempts=[*job.attempts, store.attempt(worker, "succeeded")],
        **done,
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


def _run(store: JobStore, job: Job, worker: str, tick) -> tuple[Extraction, dict, dict]:
    """(extraction, timings, record changes): extracted, or reused from an earlier job."""
    storage = store.storage
    settings = get_settings()
    engine = job.engine or settings.default_engine
    digest = dedup.options_digest(
        engine, engines.engine_version(engine), options.dedup_view(job.options)
    )
    done = {"engine": engine}  # what the record learns: the engine, and the hash if new
    timings: dict[str, float] = {}
    if settings.dedup_enabled and job.sha256:  # direct uploads: hashed by the web already
        reused = _reuse(store, job, job.sha256, digest, done)
        if reused:
            return reused, timings, done
    with tempfile.TemporaryDirectory(prefix="pdfq-") as folder:
        path = Path(folder) / "source.pdf"
        started = time.monotonic()
        # Presigned uploads are bounded only by real S3's policy checks: size and magic again.
        source.download_checked(storage, job.source_key, path, settings.max_upload_bytes)
        timings["download"] = time.monotonic() - started
        sha256 = job.sha256 or dedup.file_sha256(path)  # presigned uploads: hashed here
        if sha256 != job.sha256:
            done["sha256"] = sha256
            if settings.dedup_enabled and (reused := _reuse(store, job, sha256, digest, done)):
                return reused, timings, done
        extraction = parallel.extract(store, job, path, engine, worker, tick)
        timings["extract"] = extraction.seconds

    started = time.monotonic()
    write_results(storage, job, extraction, engine)
    timings["upload"] = time.monotonic() - started
    if settings.dedup_enabled:
        dedup.remember(storage, job.tenant, sha256, digest, job.id)
    return extraction, timings, done


def _reuse(store: JobStore, job: Job, sha256: str, digest: str, done: dict) -> Extraction | None:
    """The extraction of an earlier job with the same bytes and options, written as this
    job's results; None when there is none."""
    earlier = dedup.find(store.storage, job.tenant, sha256, digest, job.id)
    if earlier is None:
        return None
    summary = earlier.summary
    extraction = Extraction(
        pages=[Page(item["page"], item["text"]) for item in earlier.pages],
        metadata=summary.get("metadata", {}),
        encrypted=summary.get("encrypted", False),
        seconds=0.0,
        warnings=summary.get("warnings", []),
    )
    write_results(store.storage, job, extraction, done["engine"])
    done["result_of"] = earlier.job_id
    log.info("job %s: same bytes and options as job %s; reused its result", job.id, earlier.job_id)
    return extraction


def write_results(storage: Storage, job: Job, extraction: Extraction, engine: str):
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
            "engine": engines.LABELS[engine],
            "engine_version": engines.engine_version(engine),
        },
    )


def _summary(extraction: Extraction, timings: dict[str, float], done: dict) -> dict:
    reused = {"reused_from": done.pop("result_of")} if "result_of" in done else {}
    return {
        **reused,
        "page_count": len(extraction.pages),
        "chars": len(extraction.text),
        "metadata": extraction.metadata,
        "encrypted": extraction.encrypted,
        "engine": engines.LABELS[done["engine"]],
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
