"""One job from source object to stored results: lease, download, extract, write, record.

The worker holds the job's lease while it runs and renews it on every tick of the sandbox,
so a worker that dies leaves an expiring lease behind for consumer/recovery.py to find.
Every status change is the lifecycle's (core/jobs/lifecycle.py); this module decides which.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from consumer import parts, quality, scratch
from consumer.heartbeat import JobCanceled, LeaseLost, interrupted, job_tick, worker_name
from core import engine_registry, keys
from core.errors import NotFound, ObjectMissing, PdfqError
from core.jobs import dedup, options, pdfcheck, results
from core.jobs.inflight import HUEY_RETRY
from core.jobs.model import Job, JobStatus
from core.services import Services
from engines.base import Extraction

log = logging.getLogger("pdfq.consumer")
RUNNABLE = (JobStatus.QUEUED, JobStatus.SCHEDULED, JobStatus.PROCESSING)


def process(
    services: Services, source_key: str, *, final_attempt: bool = True, retry_delay: float = 0
) -> JobStatus | None:
    """Run the job whose source is `source_key`; returns its new status (None if skipped).

    Terminal errors end the job as failed at once. Retryable errors are re-raised so Huey
    retries with its delay and backoff, unless this was the final attempt. Raises Deferred
    when another live worker holds the job.
    """
    tenant, job_id = keys.parse_source_key(source_key)
    try:
        job = services.records.get(job_id, tenant)
    except NotFound:
        log.warning("job %s: no record for %s; dropping the task", job_id, source_key)
        return None
    if job.status not in RUNNABLE:
        # A duplicate delivery of a task whose job already ended: running it again changes nothing.
        log.info("job %s: already %s; skipping", job_id, job.status.value)
        return None
    worker = worker_name()
    started = services.lifecycle.start(job, worker)
    interrupted.discard(job_id)
    if started is None:
        return None
    try:
        return _run(services, started, worker, final_attempt, retry_delay)
    except LeaseLost:
        log.warning("job %s: lease lost to another worker; leaving the job to it", job_id)
        return None
    finally:
        if job_id not in interrupted:
            services.inflight.release(job_id, worker)


def superseded(services: Services, source_key: str, task_id: str) -> bool:
    """A task of a scheduled job that a reprocess replaced by another.

    Reprocess revokes the old task, but cannot reach a Huey retry; the enqueue marker names
    the task that should run the job, so any other task of a `scheduled` job is stale.
    """
    tenant, job_id = keys.parse_source_key(source_key)
    marked = services.inflight.enqueued_task(job_id)
    if marked in (None, task_id, HUEY_RETRY):
        return False
    try:
        job = services.records.get(job_id, tenant)
    except PdfqError:
        return False  # let the pipeline decide, as without this check
    if job.status is not JobStatus.SCHEDULED:
        return False
    log.info("job %s: task %s replaced by %s; skipping", job_id, task_id, marked)
    return True


def interrupted_by_shutdown(services: Services, source_key: str):
    """The worker is stopping mid-job (SIGTERM): its thread stops, the job goes back now."""
    tenant, job_id = keys.parse_source_key(source_key)
    interrupted.add(job_id)
    services.lifecycle.interrupt(services.records.get(job_id, tenant))


def _run(
    services: Services, job: Job, worker: str, final_attempt: bool, retry_delay: float
) -> JobStatus:
    lifecycle = services.lifecycle
    log.info("job %s: processing %s", job.id, job.source_key)
    tick = job_tick(services.inflight, job.id, worker)
    try:
        written, timings, done = _extract(services, job, worker, tick)
    except JobCanceled:
        lifecycle.stop_canceled(job, worker)
        log.info("job %s: canceled while processing", job.id)
        return JobStatus.CANCELED
    except PdfqError as error:
        if error.retryable and not final_attempt:
            log.warning("job %s: %s (%s); will retry", job.id, error.code, error.message)
            lifecycle.retry_later(job, error, worker, retry_delay)
            raise
        log.warning("job %s: failed with %s: %s", job.id, error.code, error.message)
        lifecycle.fail(job, error, worker)
        return JobStatus.FAILED
    summary = _summary(written, timings, done)
    pages = written["page_count"]
    lifecycle.succeed(
        job,
        worker,
        pages_total=pages,
        pages_done=pages,
        warnings=written["warnings"],
        result=summary,
        **done,
    )
    log.info("job %s: succeeded, %d pages, %d chars", job.id, pages, summary["chars"])
    return JobStatus.SUCCEEDED


def _extract(services: Services, job: Job, worker: str, tick) -> tuple[dict, dict, dict]:
    """(the stored summary, timings, record changes): extracted, or reused from an earlier
    job, and written as this job's results."""
    settings, storage = services.settings, services.storage
    engine = job.engine or settings.default_engine
    secret = dedup.password_digest(options.password(job.options, settings), settings.options_secret)
    digest = dedup.options_digest(
        engine,
        engine_registry.version(engine),
        options.dedup_view(options.for_engine(job.options, engine, settings)),
        secret,
    )
    done = {"engine": engine}  # what the record learns: the engine, and the hash if new
    timings: dict[str, float] = {}
    with scratch.job_folder("job-") as folder:
        path = Path(folder) / "source.pdf"
        started = time.monotonic()
        # Presigned uploads are bounded only by real S3's policy checks: size and magic again,
        # and only the version that was completed (its upload URL could write another).
        limit = settings.max_upload_bytes
        pdfcheck.download_checked(storage, job.source_key, path, limit, job.source_etag)
        timings["download"] = time.monotonic() - started
        sha256 = dedup.file_sha256(path)  # what this run reads, whatever was recorded before
        if sha256 != job.sha256:
            done["sha256"] = sha256
        if settings.dedup_enabled and (reused := _reuse(services, job, sha256, digest, done)):
            return reused, timings, done
        extraction = parts.extract(services, job, path, engine, worker, tick)
        timings["extract"] = extraction.seconds
        # Inside the folder: the pages are still in their file, read one at a time.
        started = time.monotonic()
        written = _write(services, job, extraction, engine)
        timings["upload"] = time.monotonic() - started
    if settings.dedup_enabled:
        dedup.remember(storage, job.tenant, sha256, digest, job.id)
    return written, timings, done


def _reuse(services: Services, job: Job, sha256: str, digest: str, done: dict) -> dict | None:
    """The results of an earlier job with the same bytes and options, copied inside the store
    as this job's (its summary); None when there is none."""
    earlier = dedup.find(services.storage, job.tenant, sha256, digest, job.id)
    if earlier is None:
        return None
    try:
        results.copy(services.storage, job.tenant, earlier.job_id, job.id, earlier.summary)
    except ObjectMissing:
        return None  # expired or erased since it was found: extract
    done["result_of"] = earlier.job_id
    log.info("job %s: same bytes and options as job %s; reused its result", job.id, earlier.job_id)
    return earlier.summary


def _write(services: Services, job: Job, extraction: Extraction, engine: str) -> dict:
    """The job's results: its pages with their quality flags, and the document summary
    (returned). Pages are read one at a time, from their file for a fresh extraction."""
    summary = {
        "page_count": len(extraction.pages),
        "chars": extraction.chars,
        "metadata": extraction.metadata,
        "encrypted": extraction.encrypted,
        "warnings": quality.warnings(extraction),
        **quality.summary(extraction),
        "engine": engine_registry.package(engine),
        "engine_version": engine_registry.version(engine),
        "outline": extraction.outline,
    }
    package = engine_registry.package(engine)
    pages = (
        {**quality.page_record(page, package), "blocks": page.blocks} for page in extraction.pages
    )
    results.write(services.storage, job.tenant, job.id, pages, summary)
    return summary


def _summary(written: dict, timings: dict[str, float], done: dict) -> dict:
    """The result summary kept on the job record."""
    reused = {"reused_from": done.pop("result_of")} if "result_of" in done else {}
    return {
        **reused,
        "page_count": written["page_count"],
        "chars": written["chars"],
        "metadata": written["metadata"],
        "encrypted": written["encrypted"],
        "engine": written["engine"],
        "seconds": {name: round(value, 3) for name, value in timings.items()},
    }
