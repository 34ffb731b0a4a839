"""One job from source object to stored result: lease, download, extract, write, record.

The worker holds the job's lease while it runs and renews it on every tick of the sandbox,
so a worker that dies leaves an expiring lease behind for consumer/recovery.py to find.
Every status change is the lifecycle's (core/jobs/lifecycle.py); this module decides which.

A one-page job costs three storage requests here: the download, the result object and the
record's end (a dedup hit copies an earlier result object instead of writing one; a job from
a URL fetches it instead of downloading, and stores what it fetched as its source). The
result is written first and the record names it; if the record's write finds the job moved
on meanwhile (canceled, erased, ended by another run), the result is not the job's and is
deleted again.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import time
from pathlib import Path

from consumer import added_outputs, parts, quality, scratch, source_fetch
from consumer.heartbeat import JobCanceled, LeaseLost, interrupted, job_tick, worker_name
from core import engine_registry, keys
from core.adapters import granted
from core.errors import Conflict, NotFound, ObjectMissing, PdfqError
from core.jobs import dedup, options, pdfcheck, results
from core.jobs.inflight import HUEY_RETRY
from core.jobs.model import Job, JobStatus
from core.services import Services
from engines import languages
from engines.base import Extraction

log = logging.getLogger("pdfq.consumer")
RUNNABLE = (JobStatus.QUEUED, JobStatus.SCHEDULED, JobStatus.PROCESSING)


def process(
    services: Services,
    source_key: str,
    *,
    final_attempt: bool = True,
    retry_delay: float = 0,
    task_id: str | None = None,
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
    if job.status is JobStatus.SCHEDULED and task_id and superseded(services, job, task_id):
        return None
    worker = worker_name()
    started = services.lifecycle.start(job, worker)
    interrupted.discard(job_id)
    if started is None:
        return None
    ended = None
    try:
        ended = _run(services, started, worker, final_attempt, retry_delay)
        return ended
    except LeaseLost:
        log.warning("job %s: lease lost to another worker; leaving the job to it", job_id)
        return None
    finally:
        # A run that ended the job dropped its lease with the end; any other gives it back.
        if ended is None and job_id not in interrupted:
            services.inflight.release(job_id, worker)


def superseded(services: Services, job: Job, task_id: str) -> bool:
    """A task of a scheduled job that a reprocess replaced by another.

    Reprocess revokes the old task, but cannot reach a Huey retry; the enqueue marker names
    the task that should run the job, so any other task of a `scheduled` job is stale.
    """
    marked = services.inflight.enqueued_task(job.id)
    if marked in (None, task_id, HUEY_RETRY):
        return False
    log.info("job %s: task %s replaced by %s; skipping", job.id, task_id, marked)
    return True


def interrupted_by_shutdown(services: Services, source_key: str):
    """The worker is stopping mid-job (SIGTERM): its thread stops, the job goes back now."""
    tenant, job_id = keys.parse_source_key(source_key)
    interrupted.add(job_id)
    services.lifecycle.interrupt(services.records.get(job_id, tenant))


def _run(
    services: Services, job: Job, worker: str, final_attempt: bool, retry_delay: float
) -> JobStatus | None:
    lifecycle = services.lifecycle
    log.info("job %s: processing %s", job.id, job.source_key)
    tick = job_tick(services.inflight, job.id, worker)
    try:
        summary, done, remember = _extract(services, job, worker, tick)
    except JobCanceled:
        return _ended(job, lambda: lifecycle.stop_canceled(job, worker), JobStatus.CANCELED)
    except PdfqError as error:
        if error.retryable and not final_attempt:
            log.warning("job %s: %s (%s); will retry", job.id, error.code, error.message)
            lifecycle.retry_later(job, error, worker, retry_delay)
            raise
        log.warning("job %s: failed with %s: %s", job.id, error.code, error.message)
        try:
            return _ended(
                job, functools.partial(lifecycle.fail, job, error, worker), JobStatus.FAILED
            )
        except PdfqError as outage:  # storage still down: the failure cannot be written either
            if not outage.retryable:
                raise
            lifecycle.hand_back(job, error, worker)
            return None
    pages = summary["page_count"]
    warnings = summary.pop("warnings")
    try:
        ended = lifecycle.succeed(
            job,
            worker,
            pages_total=pages,
            pages_done=pages,
            warnings=warnings,
            result=summary,
            **done,
        )
    except Conflict as exc:  # the job moved on meanwhile: this result is not its result
        log.warning("job %s: result not kept: %s", job.id, exc.message)
        with contextlib.suppress(PdfqError):  # unnamed by any record: retention removes it
            services.storage.delete(summary["key"])
        return None
    if remember:
        remember(ended)
    copy_to_granted(services, ended)
    earlier = (job.result or {}).get("key")
    if earlier and earlier != summary["key"]:  # a re-run: the last run's result is replaced
        with contextlib.suppress(PdfqError):
            services.storage.delete(earlier)
    log.info("job %s: succeeded, %d pages, %d chars", job.id, pages, summary["chars"])
    return JobStatus.SUCCEEDED


def _ended(job: Job, end, status: JobStatus) -> JobStatus | None:
    """The run's end, unless the job moved on meanwhile (then this run's outcome is not the
    job's: canceled, erased or ended by another run)."""
    try:
        end()
    except Conflict as exc:
        log.warning("job %s: this run's end not kept: %s", job.id, exc.message)
        return None
    log.info("job %s: %s", job.id, status.value)
    return status


def _extract(services: Services, job: Job, worker: str, tick):
    """(the result summary for the record, record changes, what to do once the job's record
    says it succeeded): extracted, or copied from an earlier job, and stored as this run's
    result object."""
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
    key = keys.result_key(job.tenant, job.id, results.new_run())
    with scratch.job_folder("job-") as folder:
        path = Path(folder) / "source.pdf"
        started = time.monotonic()
        if job.source_url and not job.size:
            done["size"] = _fetched(services, job, path)
        elif job.source_object and not job.size:
            done["size"] = _from_granted(services, job, path)
        else:
            # Presigned uploads are bounded only by real S3's policy checks: size and magic
            # again, and only the version that was completed (its upload URL could write another).
            limit = settings.max_upload_bytes
            pdfcheck.download_checked(storage, job.source_key, path, limit, job.source_etag)
        timings["download"] = time.monotonic() - started
        sha256 = dedup.file_sha256(path)  # what this run reads, whatever was recorded before
        if sha256 != job.sha256:
            done["sha256"] = sha256
        if settings.dedup_enabled and (reused := _reuse(services, job, sha256, digest, key)):
            reused["seconds"] = _rounded(timings)
            added_outputs.at_run(services, job, path, reused, tick)  # figures are the run's own
            return reused, done, None
        dropping: list = []  # a page-parallel job's parts, deleted while its result is written
        extraction = parts.extract(services, job, path, engine, worker, tick, dropping)
        timings["extract"] = extraction.seconds
        tick(final=True)  # canceled or erased while it ran: stop before anything is written
        started = time.monotonic()
        # Inside the folder: the pages are still in their file, read one at a time.
        summary = _write(services, job, extraction, engine, key)
        parts.dropped(dropping)
        added_outputs.at_run(services, job, path, summary, tick)
        timings["upload"] = time.monotonic() - started
    summary.update(seconds=_rounded(timings), dedup=digest)

    def remember(ended: Job):
        if settings.dedup_enabled:
            ttl = max(settings.result_retention_days, 1) * 86400
            dedup.remember(services.state, ended, sha256, digest, ttl)

    return summary, done, remember


def _fetched(services: Services, job: Job, path: Path) -> int:
    """The job's source_url fetched to `path` (consumer/source_fetch.py) and stored as its
    source, so re-runs, retention and erasure treat it as an upload's; its size."""
    size = source_fetch.fetch(job.source_url, path, services.settings)
    name = job.filename.encode("ascii", "replace").decode("ascii")
    with open(path, "rb") as fp:
        services.storage.upload_file(job.source_key, fp, "application/pdf", {"filename": name})
    return size


def _from_granted(services: Services, job: Job, path: Path) -> int:
    """The job's source read from the tenant's granted bucket (core/adapters/granted.py) and
    stored as its source, like a fetched URL; its size."""
    settings = services.settings
    bucket, key = job.source_object["bucket"], job.source_object["key"]
    theirs = granted.store(settings, granted.source_grant(settings, job.tenant, bucket))
    size = pdfcheck.download_checked(theirs, key, path, settings.max_upload_bytes)
    name = job.filename.encode("ascii", "replace").decode("ascii")
    with open(path, "rb") as fp:
        services.storage.upload_file(job.source_key, fp, "application/pdf", {"filename": name})
    return size


def copy_to_granted(services: Services, job: Job):
    """A succeeded job's result object, copied under the tenant's granted result prefix (if
    it has one). A failure is logged, not the job's: its result is in pdfq's bucket."""
    grant = granted.result_grant(services.settings, job.tenant)
    if grant is None or not job.result:
        return
    try:
        data = services.storage.get_bytes(job.result["key"])
        theirs = granted.store(services.settings, grant)
        theirs.put_bytes(f"{grant.result_prefix}{job.id}.jsonl", data, "application/x-ndjson")
    except PdfqError as exc:
        log.warning("job %s: result not copied to %s: %s", job.id, grant.bucket, exc.message)


def _reuse(services: Services, job: Job, sha256: str, digest: str, key: str) -> dict | None:
    """The result of an earlier job with the same bytes and options, copied inside the store
    as this run's (the summary for the record); None when there is none to copy."""
    earlier = dedup.find(services.state, job.tenant, sha256, digest, job.id)
    if earlier is None:
        return None
    try:
        source = services.records.get(earlier.job_id, job.tenant)
    except NotFound:  # erased (or gone): never reused
        return None
    summary = source.result or {}
    if source.status is not JobStatus.SUCCEEDED or summary.get("key") != earlier.result:
        return None  # re-run, or failed since: its result is another's
    try:
        results.copy(services.storage, earlier.result, key)
    except ObjectMissing:
        return None  # expired since it was found: extract
    log.info("job %s: same bytes and options as job %s; reused its result", job.id, source.id)
    kept = {k: v for k, v in summary.items() if k not in ("key", "seconds", "reused_from")}
    return {**kept, "key": key, "reused_from": source.id, "warnings": source.warnings}


def _write(services: Services, job: Job, extraction: Extraction, engine: str, key: str) -> dict:
    """The run's result object: its pages with their quality flags, after the document's
    summary; returns the summary the record keeps. Pages are read one at a time, from
    their file."""
    package = engine_registry.package(engine)
    wanted = options.wants_structure(job.options)
    outputs = list(job.options.get("outputs") or [])
    quality_summary = quality.summary(extraction)
    warnings = quality.warnings(extraction)
    stored = {
        "page_count": len(extraction.pages),
        "chars": extraction.chars,
        "metadata": extraction.metadata,
        "encrypted": extraction.encrypted,
        "warnings": warnings,
        **quality_summary,
        "engine": package,
        "engine_version": engine_registry.version(engine),
        "outline": extraction.outline,
        "outputs": ["blocks", *outputs] if wanted and "blocks" not in outputs else outputs,
    }
    document = languages.Document()
    pages = (_page_line(page, package, document) for page in extraction.pages)
    late = None
    if options.wants(job.options, "languages"):
        late = lambda: {"language": document.result(), "page_languages": document.pages}  # noqa: E731
    size = results.write(services.storage, key, pages, stored, structure_wanted=wanted, late=late)
    return {
        "key": key,
        "bytes": size,
        "page_count": stored["page_count"],
        "chars": stored["chars"],
        "metadata": stored["metadata"],
        "encrypted": stored["encrypted"],
        "engine": package,
        "outputs": stored["outputs"],
        "warnings": warnings,
    }


def _page_line(page, package: str, document: languages.Document) -> dict:
    """The page's line in the result object: its record, blocks and (when asked) tables and
    language, which `document` gathers into the document's."""
    line = {**quality.page_record(page, package), "blocks": page.blocks}
    if page.tables is not None:
        line["tables"] = page.tables
    if page.language is not None:
        line["language"] = page.language
        document.add(page.text, page.language, page.number)
    return line


def _rounded(timings: dict[str, float]) -> dict[str, float]:
    return {name: round(value, 3) for name, value in timings.items()}
