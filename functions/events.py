"""S3 ObjectCreated events: an AWS Lambda-style `handler` and a webhook for S3-compatible stores.

Two kinds of keys matter. sources/<tenant>/<job>.pdf: a presigned upload arrived, so that job
is completed, once, however the event and the client's own complete call interleave.
inbox/<tenant>/<name>: a file dropped by any tool becomes a job (functions/inbox.py). Every
other key is ignored, so the bucket's notifications may cover more than these two prefixes.
"""

from __future__ import annotations

import functools
import hmac
import logging

from flask import Blueprint, request

from core import keys, logs
from core.errors import (
    BadRequest,
    JobDeleted,
    NotFound,
    NotUploaded,
    PdfqError,
    Unauthorized,
    UploadRejected,
)
from core.jobs.model import JobStatus
from core.services import Services
from functions import inbox, limits
from functions.auth import public
from functions.context import caller, services, start
from functions.s3events import Created, created_objects, outcome

log = logging.getLogger("pdfq.events")
bp = Blueprint("events", __name__)


@functools.cache
def _lambda_services() -> Services:
    """One Services per Lambda container, which serves many invocations."""
    runtime = start()
    logs.configure(runtime.settings)
    return runtime


def handler(event: dict, context=None) -> dict:
    """AWS Lambda entry point, for S3 -> Lambda and S3 -> SQS -> Lambda.

    A storage or queue outage raises, once every record has had its turn, so Lambda (or SQS)
    delivers the event again; handling it twice is safe.
    """
    return {"records": handle(_lambda_services(), event)}


@bp.post("/events/s3")
@public  # the storage server calls it with EVENTS_WEBHOOK_SECRET, not a tenant's token
def s3_webhook():
    """The same handler over HTTP, for stores that post notifications (MinIO's webhook target)."""
    runtime = services()
    secret = runtime.settings.events_webhook_secret
    if not secret:
        raise NotFound("The S3 event webhook is off: set EVENTS_WEBHOOK_SECRET to turn it on.")
    # MinIO sends its target's auth_token as "Authorization: Bearer <token>".
    sent = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    if not hmac.compare_digest(sent.encode(), secret.encode()):
        raise Unauthorized("Send the webhook secret as 'Authorization: Bearer <secret>'.")
    event = limits.json_body()
    if event is None:
        raise BadRequest("Send the S3 event as JSON.")
    return {"records": handle(runtime, event)}


def handle(runtime: Services, event) -> list[dict]:
    """What became of each created object in `event` (see s3events.outcome for the shape).

    One object's failure is its own outcome (`error`, with its code) and never stops the
    others; a retryable one (storage or the queue down) is raised after them all, so the
    whole event comes again (handling an object twice is safe)."""
    results, retry = [], None
    for obj in created_objects(event):
        try:
            result = _one(runtime, obj)
        except PdfqError as error:
            log.warning("event %s: %s: %s", obj.key, error.code, error.message)
            result = outcome(obj, "error", reason=f"{error.code}: {error.message}")
            retry = error if error.retryable else retry
        log.info("event %s: %s", obj.key, result["outcome"])
        results.append(result)
    if retry is not None:
        raise retry
    return results


def _one(runtime: Services, obj: Created) -> dict:
    bucket = runtime.settings.s3_bucket
    if obj.bucket != bucket:
        return outcome(obj, "ignored", reason=f"not pdfq's bucket ({bucket})")
    if _is(keys.parse_source_key, obj.key):
        return _source_arrived(runtime, obj)
    if _is(keys.parse_inbox_key, obj.key):
        return inbox.ingest(runtime, obj, caller())
    return outcome(obj, "ignored", reason="neither a source nor an inbox key")


def _source_arrived(runtime: Services, obj: Created) -> dict:
    """A presigned upload landed: complete its job, unless that already happened."""
    tenant, job_id = keys.parse_source_key(obj.key)
    try:
        job = runtime.records.get(job_id, tenant)
    except JobDeleted:
        # A presigned URL handed out before the job was erased stays valid until it expires.
        runtime.storage.delete(obj.key)
        return outcome(obj, "ignored", reason="the job was deleted; the object is removed")
    except NotFound:
        # A job the state store lost before its upload was completed: the object carries it.
        # (A direct upload stores its source before its record, and queues it itself.)
        try:
            job, queued = runtime.lifecycle.adopt_upload(tenant, job_id, caller())
        except NotFound:
            return outcome(obj, "ignored", reason="no job awaits this upload")
        except UploadRejected:
            return outcome(obj, "rejected", runtime.records.get(job_id, tenant))
        return outcome(obj, "queued" if queued else "duplicate", job)
    if job.status is not JobStatus.AWAITING_UPLOAD:
        return outcome(obj, "duplicate", job)
    try:
        job, queued = runtime.lifecycle.complete_upload(job, caller())
    except UploadRejected:
        return outcome(obj, "rejected", runtime.records.get(job_id, tenant))
    except NotUploaded:
        return outcome(obj, "ignored", job, reason="the object is gone again")
    return outcome(obj, "queued" if queued else "duplicate", job)


def _is(parse, key: str) -> bool:
    try:
        parse(key)
    except ValueError:
        return False
    return True
