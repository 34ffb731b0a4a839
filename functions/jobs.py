"""The read side: a job's status and progress, and its result once it has succeeded."""

from __future__ import annotations

import datetime as dt
import json

from flask import Blueprint, Response, request, url_for

from core import keys, options, retention, services
from core.errors import BadRequest, Conflict, ResultNotReady
from core.jobs import Job, JobStatus, parse_time
from core.settings import get_settings
from core.storage import ObjectMissing
from functions.auth import current_tenant

bp = Blueprint("jobs", __name__)
RESULT_FORMATS = ("text", "json", "pages")
# ?format= -> the stored result file it is read from, and its media type.
RESULT_FILES = {
    "text": ("text.txt", "text/plain; charset=utf-8"),
    "pages": ("pages.jsonl", "application/x-ndjson; charset=utf-8"),
    "json": ("result.json", "application/json"),
}


def job_view(job: Job) -> dict:
    """The public shape of a job, with live progress while it runs."""
    done, total = services.jobs().progress(job)
    return {
        "id": job.id,
        "status": job.status.value,
        "filename": job.filename,
        "size": job.size,
        "pages_done": done,
        "pages_total": total,
        "eta_seconds": eta_seconds(job, done, total),
        "created_at": job.created_at,
        "updated_at": job.updated_at,
        "queued_at": job.queued_at,
        "started_at": job.started_at,
        "finished_at": job.finished_at,
        "scheduled_for": job.scheduled_for,
        "attempts": len(job.attempts),
        "error": job.error,
        "warnings": job.warnings,
        "options": options.public(job.options),
        "callback_url": job.callback_url,
        "deliveries": job.deliveries,
        "source_expires_at": retention.source_expires_at(job),
        "result_expires_at": retention.result_expires_at(job),
        "links": {
            "self": url_for("jobs.get_job", job_id=job.id),
            "result": url_for("jobs.get_result", job_id=job.id),
            "result_link": url_for("jobs.get_result_link", job_id=job.id),
            "reprocess": url_for("control.reprocess_view", job_id=job.id),
            "cancel": url_for("control.cancel_view", job_id=job.id),
        },
    }


def eta_seconds(job: Job, done: int | None, total: int | None) -> float | None:
    """Seconds left while extracting, from the pace so far (None until a page is done)."""
    if job.status is not JobStatus.PROCESSING or not done or not total or not job.started_at:
        return None
    elapsed = (dt.datetime.now(dt.UTC) - parse_time(job.started_at)).total_seconds()
    return round(max(0.0, elapsed / done * (total - done)), 1)


@bp.get("/jobs/<job_id>")
def get_job(job_id: str):
    return job_view(services.jobs().get(job_id, current_tenant()))


def _format() -> str:
    fmt = request.args.get("format", "text")
    if fmt not in RESULT_FORMATS:
        raise BadRequest(f"format must be one of {', '.join(RESULT_FORMATS)}; got {fmt!r}.")
    return fmt


def _succeeded(job_id: str) -> Job:
    job = services.jobs().get(job_id, current_tenant())
    if job.status is JobStatus.FAILED:
        code = (job.error or {}).get("code", "failed")
        raise Conflict(f"Job {job.id} failed ({code}); it has no result.")
    if job.status is not JobStatus.SUCCEEDED:
        raise ResultNotReady(f"Job {job.id} is {job.status.value}; poll its status URL.")
    return job


@bp.get("/jobs/<job_id>/result")
def get_result(job_id: str):
    """text/plain by default; ?format=json for per-page text and document metadata, and
    ?format=pages for JSON lines, one page each (streamed)."""
    fmt = _format()
    job = _succeeded(job_id)
    storage = services.storage()
    try:  # results/ may expire by a lifecycle rule (RESULT_RETENTION_DAYS) before the record
        if fmt in ("text", "pages"):
            name, media_type = RESULT_FILES[fmt]
            chunks = storage.stream(keys.result_key(job.tenant, job.id, name))
            return Response(chunks, content_type=media_type)
        summary, _ = storage.get_json(keys.result_key(job.tenant, job.id, "result.json"))
        lines = storage.get_bytes(keys.result_key(job.tenant, job.id, "pages.jsonl")).splitlines()
    except ObjectMissing:
        raise retention.result_expired(job) from None
    return {**summary, "warnings": job.warnings, "pages": [json.loads(line) for line in lines]}


@bp.get("/jobs/<job_id>/result/link")
def get_result_link(job_id: str):
    """A presigned GET URL of the stored result file, for results too large to proxy."""
    fmt = _format()
    job = _succeeded(job_id)
    name, _ = RESULT_FILES[fmt]
    key = keys.result_key(job.tenant, job.id, name)
    storage = services.storage()
    try:
        size = storage.head(key)["ContentLength"]
    except ObjectMissing:
        raise retention.result_expired(job) from None
    expires = get_settings().result_link_expiry
    expires_at = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=expires)
    return {
        "format": fmt,
        "url": storage.presign_get(key, expires=expires),
        "bytes": size,
        "expires_at": expires_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
