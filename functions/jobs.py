"""The read side: a job's status and progress, and its result once it has succeeded."""

from __future__ import annotations

import json

from flask import Blueprint, Response, request, url_for

from core import keys, services
from core.errors import BadRequest, Conflict, ResultExpired, ResultNotReady
from core.jobs import Job, JobStatus
from core.storage import ObjectMissing
from functions.auth import current_tenant

bp = Blueprint("jobs", __name__)
RESULT_FORMATS = ("text", "json")


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
        "created_at": job.created_at,
        "updated_at": job.updated_at,
        "queued_at": job.queued_at,
        "started_at": job.started_at,
        "finished_at": job.finished_at,
        "scheduled_for": job.scheduled_for,
        "attempts": len(job.attempts),
        "error": job.error,
        "warnings": job.warnings,
        "links": {
            "self": url_for("jobs.get_job", job_id=job.id),
            "result": url_for("jobs.get_result", job_id=job.id),
        },
    }


@bp.get("/jobs/<job_id>")
def get_job(job_id: str):
    return job_view(services.jobs().get(job_id, current_tenant()))


@bp.get("/jobs/<job_id>/result")
def get_result(job_id: str):
    """text/plain by default; ?format=json for per-page text and document metadata."""
    fmt = request.args.get("format", "text")
    if fmt not in RESULT_FORMATS:
        raise BadRequest(f"format must be one of {', '.join(RESULT_FORMATS)}; got {fmt!r}.")
    job = services.jobs().get(job_id, current_tenant())
    if job.status is JobStatus.FAILED:
        code = (job.error or {}).get("code", "failed")
        raise Conflict(f"Job {job.id} failed ({code}); it has no result.")
    if job.status is not JobStatus.SUCCEEDED:
        raise ResultNotReady(f"Job {job.id} is {job.status.value}; poll its status URL.")

    storage = services.storage()
    try:  # results/ may expire by a lifecycle rule (RESULT_RETENTION_DAYS) before the record
        if fmt == "text":
            chunks = storage.stream(keys.result_key(job.tenant, job.id, "text.txt"))
            return Response(chunks, mimetype="text/plain", content_type="text/plain; charset=utf-8")
        summary, _ = storage.get_json(keys.result_key(job.tenant, job.id, "result.json"))
        lines = storage.get_bytes(keys.result_key(job.tenant, job.id, "pages.jsonl")).splitlines()
    except ObjectMissing:
        raise ResultExpired() from None
    return {**summary, "warnings": job.warnings, "pages": [json.loads(line) for line in lines]}
