"""Completing an upload made straight to storage: check what arrived, then queue it exactly once.

The client's POST /uploads/<id>/complete and the bucket's ObjectCreated event may both arrive
for the same upload, in any order and at the same time. The move from awaiting_upload to queued
is a conditional write (If-Match on the record), so exactly one of them queues the job.
"""

from __future__ import annotations

import logging
import os
import socket

from core import services
from core.errors import (
    Conflict,
    EmptyUpload,
    NotAPdf,
    NotUploaded,
    PdfqError,
    QueueUnavailable,
    TooLarge,
    UploadRejected,
)
from core.jobs import Job, JobStatus, JobStore
from core.pdf import MAGIC_WINDOW, looks_like_pdf
from core.settings import get_settings
from core.storage import ObjectMissing
from functions.submission import enqueue

log = logging.getLogger("pdfq.web")

# The checks at the door; a job refused by one of them answers with the same code again.
_REFUSALS = {error.code: error for error in (EmptyUpload, TooLarge, NotAPdf)}


def complete_upload(job: Job) -> tuple[Job, bool]:
    """Verify the object at the job's source key and queue the job: (job, True) if this call did.

    A job already past awaiting_upload comes back as it is, with False: completing twice queues
    once. Raises NotUploaded (409) while nothing is there yet, and UploadRejected (422) when the
    object is empty, too large or not a PDF: the object is deleted, the job fails with that code.
    """
    store = services.jobs()
    if job.status is not JobStatus.AWAITING_UPLOAD:
        return _as_decided(job), False
    try:
        size = store.storage.head(job.source_key)["ContentLength"]
    except ObjectMissing:
        raise NotUploaded(
            f"Nothing is uploaded for job {job.id} yet: send the file to its upload URL first."
        ) from None
    problem = _check(store, job.source_key, size)
    if problem is not None:
        job = refuse(store, job, problem)
        _delete_quietly(store, job.source_key)
        return _as_decided(job), False
    try:
        job = store.transition(job, JobStatus.QUEUED, expect=JobStatus.AWAITING_UPLOAD, size=size)
    except Conflict:  # another caller completed (or refused) it first
        return _as_decided(store.get(job.id, job.tenant)), False
    try:
        enqueue(job)
    except QueueUnavailable:
        _hand_back(store, job)
        raise
    return job, True


def refuse(store: JobStore, job: Job, error: PdfqError) -> Job:
    """Fail an awaiting_upload job with `error`'s code; a job decided meanwhile is left alone."""
    try:
        return store.transition(
            job,
            JobStatus.FAILED,
            expect=JobStatus.AWAITING_UPLOAD,
            error=error.to_dict(),
            attempts=[*job.attempts, store.attempt(_caller(), error.code)],
        )
    except Conflict:
        return store.get(job.id, job.tenant)


def _check(store: JobStore, key: str, size: int) -> PdfqError | None:
    """What is wrong with the uploaded object, judged by its size and its first KiB."""
    limit = get_settings().max_upload_bytes
    if size == 0:
        return EmptyUpload()
    if size > limit:
        # Real S3 refuses this through the POST policy; moto and other local stores do not.
        return TooLarge(f"The file is {size} bytes; the limit is {limit} bytes.")
    if not looks_like_pdf(store.storage.read_head(key, MAGIC_WINDOW)):
        return NotAPdf()
    return None


def _as_decided(job: Job) -> Job:
    """The job, or UploadRejected again if the checks at the door refused it."""
    code = (job.error or {}).get("code")
    if job.status is JobStatus.FAILED and code in _REFUSALS:
        raise UploadRejected(_REFUSALS[code](job.error.get("message")))
    return job


def _hand_back(store: JobStore, job: Job):
    """The queue is down: put the job back to awaiting_upload, so completing again works."""
    try:
        store.transition(job, JobStatus.AWAITING_UPLOAD, expect=JobStatus.QUEUED)
    except PdfqError as exc:
        log.warning("job %s: queued but not enqueued (%s)", job.id, exc.message)


def _delete_quietly(store: JobStore, key: str):
    try:
        store.storage.delete(key)
    except PdfqError as exc:
        log.warning("could not delete the refused upload %s: %s", key, exc.message)


def _caller() -> str:
    """Names the process in the job's attempts, as the worker names itself there."""
    return f"web:{socket.gethostname()}:{os.getpid()}"
