"""Turning stored bytes into a queued job: the record first, then the task."""

from __future__ import annotations

import logging
import sqlite3
from typing import IO

import redis

from core import keys, services
from core.errors import PdfqError, QueueUnavailable
from core.jobs import Job
from core.redisconn import out_of_memory, unreachable
from core.settings import get_settings

log = logging.getLogger("pdfq.web")


def queue_call(fn, *args):
    """Call into Huey, turning a down queue into QueueUnavailable (503 with Retry-After)."""
    try:
        return fn(*args)
    except (redis.ConnectionError, redis.TimeoutError) as exc:
        raise unreachable(get_settings().redis_url, exc) from exc
    except redis.exceptions.OutOfMemoryError as exc:
        raise out_of_memory(get_settings().redis_url, exc) from exc
    except sqlite3.OperationalError as exc:
        raise QueueUnavailable(f"The embedded queue is not usable ({exc}).") from exc


def enqueue(job: Job, eta: str | None = None):
    """Hand the job to the consumer (at `eta` if given); QueueUnavailable if the queue is down."""
    from consumer.tasks import enqueue_job  # the web imports only from the tasks module

    queue_call(enqueue_job, job, eta)


def submit_upload(
    fileobj: IO[bytes],
    *,
    filename: str,
    size: int,
    tenant: str,
    sha256: str | None = None,
    options: dict | None = None,
    callback_url: str | None = None,
    engine: str | None = None,
) -> Job:
    """Store an already validated PDF, record its job and enqueue it.

    If any step fails, what the earlier steps wrote is removed, so a refused upload
    leaves no job behind and the client can simply try again.
    """
    store = services.jobs()
    job_id = keys.new_job_id()
    source = keys.source_key(tenant, job_id)
    store.storage.upload_file(source, fileobj, "application/pdf", {"filename": _ascii(filename)})
    job = None
    try:
        job = store.create(
            job_id=job_id,
            tenant=tenant,
            filename=filename,
            size=size,
            sha256=sha256,
            options=options,
            callback_url=callback_url,
            engine=engine,
        )
        enqueue(job)
    except PdfqError:
        _undo(store, job, source)
        raise
    return job


def _undo(store, job: Job | None, source: str):
    try:
        if job is not None:
            store.delete(job)
        store.storage.delete(source)
    except PdfqError as exc:
        log.warning("could not remove the refused upload %s: %s", source, exc.message)


def _ascii(text: str) -> str:
    # S3 user metadata travels in HTTP headers: ASCII only.
    return text.encode("ascii", "replace").decode("ascii")
