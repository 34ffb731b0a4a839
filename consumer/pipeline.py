"""One job from source object to stored results: download, extract, write, record the outcome."""

from __future__ import annotations

import json
import logging
import os
import socket
import tempfile
import threading
import time
from importlib.metadata import version
from pathlib import Path

from consumer.extract import Extraction, extract
from core import keys, services
from core.errors import NotFound, PdfqError, SourceMissing, TooLarge
from core.jobs import Job, JobStatus, JobStore
from core.settings import get_settings
from core.storage import ObjectMissing, Storage

log = logging.getLogger("pdfq.consumer")
ENGINE = "pdfminer.six"


def worker_name() -> str:
    """host:pid:thread, so an attempt in the record names the worker that made it."""
    return f"{socket.gethostname()}:{os.getpid()}:{threading.current_thread().name}"


def process(source_key: str, *, final_attempt: bool = True) -> JobStatus | None:
    """Run the job whose source is `source_key`; returns its new status (None if skipped).

    Terminal errors end the job as failed at once. Retryable errors are re-raised so Huey
    retries with its delay and backoff, unless this was the final attempt.
    """
    tenant, job_id = keys.parse_source_key(source_key)
    store = services.jobs()
    try:
        job = store.get(job_id, tenant)
    except NotFound:
        log.warning("job %s: no record for %s; dropping the task", job_id, source_key)
        return None
    if job.status not in (JobStatus.QUEUED, JobStatus.SCHEDULED, JobStatus.PROCESSING):
        # A duplicate delivery of a task whose job already ended: running it again changes nothing.
        log.info("job %s: already %s; skipping", job_id, job.status.value)
        return None

    worker = worker_name()
    job = store.transition(job, JobStatus.PROCESSING, pages_done=0, pages_total=None, error=None)
    log.info("job %s: processing %s", job_id, source_key)
    try:
        extraction, timings = _run(store, job)
    except PdfqError as error:
        if error.retryable and not final_attempt:
            log.warning("job %s: %s (%s); will retry", job_id, error.code, error.message)
            _hand_back(store, job, error, worker)
            raise
        log.warning("job %s: failed with %s: %s", job_id, error.code, error.message)
        store.fail(job, error, worker)
        return JobStatus.FAILED

    summary = _summary(extraction, timings)
    store.transition(
        job,
        JobStatus.SUCCEEDED,
        pages_total=len(extraction.pages),
        pages_done=len(extraction.pages),
        warnings=extraction.warnings,
        result=summary,
        attempts=[*job.attempts, store.attempt(worker, "succeeded")],
    )
    log.info(
        "job %s: succeeded, %d pages, %d chars", job_id, len(extraction.pages), summary["chars"]
    )
    return JobStatus.SUCCEEDED


def _run(store: JobStore, job: Job) -> tuple[Extraction, dict[str, float]]:
    storage = store.storage
    limit = get_settings().max_upload_bytes
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
        if path.stat().st_size > limit:
            raise TooLarge(f"The PDF is {path.stat().st_size} bytes; the limit is {limit}.")

        def on_page(done: int, total: int):
            store.set_progress(job.id, done, total)

        extraction = extract(path, on_page=on_page)
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
    lines = (
        json.dumps({"page": p.number, "text": p.text, "chars": p.chars}, ensure_ascii=False)
        for p in extraction.pages
    )
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
            "warnings": extraction.warnings,
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


def _hand_back(store: JobStore, job: Job, error: PdfqError, worker: str):
    """Record a retryable failure and hand the job back to the queue (best effort)."""
    try:
        store.transition(
            job,
            JobStatus.QUEUED,
            error=error.to_dict(),
            attempts=[*job.attempts, store.attempt(worker, error.code)],
        )
    except PdfqError:
        log.warning("job %s: could not record the retry (%s)", job.id, error.code)
