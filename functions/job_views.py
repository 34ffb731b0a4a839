"""The read side: a job's status and progress, and its result once it has succeeded."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, Response, request, url_for

from consumer import page_images
from core.clock import seconds_since
from core.errors import BadRequest
from core.jobs import added, options, results, retention
from core.jobs.model import Job, JobStatus
from functions.auth import current_tenant
from functions.context import services

bp = Blueprint("jobs", __name__)


def job_view(job: Job) -> dict:
    """The public shape of a job, with live progress while it runs."""
    runtime = services()
    settings = runtime.settings
    done, total = runtime.inflight.progress(job)
    return {
        "id": job.id,
        "status": job.status.value,
        "filename": job.filename,
        "size": job.size,
        "source_url": job.source_url,
        "batch_id": job.batch_id,
        "source": job.source_object,
        "pages_done": done,
        "pages_total": total,
        "eta_seconds": eta_seconds(job, done, total),
        "created_at": job.created_at,
        "updated_at": job.updated_at,
        "status_changed_at": job.status_changed_at,
        "queued_at": job.queued_at,
        "started_at": job.started_at,
        "finished_at": job.finished_at,
        "scheduled_for": job.scheduled_for,
        "attempts": len(job.attempts),
        "error": job.error,
        "warnings": job.warnings,
        "options": options.public(job.options),
        # The outputs the job has (its run's and those added since) and those being added.
        "outputs": added.computed(job),
        "outputs_pending": added.of(job)["pending"],
        "outputs_failed": added.of(job)["failed"],
        "callback_url": job.callback_url,
        "deliveries": job.deliveries,
        "source_expires_at": retention.source_expires_at(job, settings.source_retention_days),
        "result_expires_at": retention.result_expires_at(job, settings.result_retention_days),
        "links": {
            "self": url_for("jobs.get_job", job_id=job.id),
            "result": url_for("jobs.get_result", job_id=job.id),
            "result_link": url_for("jobs.get_result_link", job_id=job.id),
            "reprocess": url_for("control.reprocess_view", job_id=job.id),
            "outputs": url_for("control.add_outputs_view", job_id=job.id),
            "cancel": url_for("control.cancel_view", job_id=job.id),
        },
    }


def eta_seconds(job: Job, done: int | None, total: int | None) -> float | None:
    """Seconds left while extracting, from the pace so far (None until a page is done)."""
    if job.status is not JobStatus.PROCESSING or not done or not total or not job.started_at:
        return None
    elapsed = seconds_since(job.started_at)
    return round(max(0.0, elapsed / done * (total - done)), 1)


@bp.get("/jobs/<job_id>")
def get_job(job_id: str):
    return job_view(services().records.get(job_id, current_tenant()))


def _format() -> str:
    fmt = request.args.get("format", "text")
    if fmt not in results.FORMATS:
        choices = ", ".join(results.FORMATS)
        raise BadRequest(f"format must be one of {choices}; got {fmt!r}.")
    return fmt


def _table_number() -> int | None:
    value = request.args.get("table")
    if value is None:
        return None
    if not value.isdigit() or not 1 <= int(value) <= 1_000_000:
        raise BadRequest(f"table must be a table's number (1, 2, ...); got {value[:20]!r}.")
    return int(value)


@bp.get("/jobs/<job_id>/result")
def get_result(job_id: str):
    """text/plain by default; ?format=json for per-page text and document metadata,
    ?format=pages for JSON lines, one page each, ?format=blocks for each page's text blocks
    (JSON lines), ?format=markdown, ?format=tables (JSON lines, a table each),
    ?format=csv&table=<n> for one table, ?format=chunks, and ?format=figures (JSON lines, a
    figure each with a presigned link to its PNG), all streamed from storage."""
    fmt = _format()
    table = _table_number()
    runtime = services()
    job = runtime.records.get(job_id, current_tenant())
    days = runtime.settings.result_retention_days
    # Streamed: a response's memory does not grow with the document.
    url = url_for("jobs.get_result", job_id=job.id)
    link_seconds = runtime.settings.result_link_expiry
    chunks = results.chunks(
        runtime.storage, job, fmt, days, table=table, url=url, link_seconds=link_seconds
    )
    return Response(chunks, content_type=results.FORMATS[fmt][1])


@bp.get("/jobs/<job_id>/result/link")
def get_result_link(job_id: str):
    """A presigned GET URL of the stored result file, for results too large to proxy."""
    fmt = _format()
    if fmt == "csv":
        raise BadRequest("A table's CSV has no download link: GET ?format=csv&table=<n>.")
    if fmt in results.UNLINKED:
        raise BadRequest("The figures have no download link: GET ?format=figures links each one.")
    runtime = services()
    job = runtime.records.get(job_id, current_tenant())
    url = url_for("jobs.get_result", job_id=job.id)
    key, size = results.stored_key(
        runtime.storage, job, fmt, runtime.settings.result_retention_days, url
    )
    expires = runtime.settings.result_link_expiry
    expires_at = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=expires)
    return {
        "format": fmt,
        "url": runtime.storage.presign_get(key, expires=expires),
        "bytes": size,
        "expires_at": expires_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


@bp.get("/jobs/<job_id>/pages/<int:page>.png")
def get_page_image(job_id: str, page: int):
    """Page `page` of a succeeded job as a PNG `?width=` pixels wide (800 by default, rounded
    up to a multiple of 100, at most PAGE_IMAGE_MAX_WIDTH): drawn by PDFium in a sandbox
    child the first time, then read from storage."""
    runtime = services()
    job = runtime.records.get(job_id, current_tenant())
    width = page_images.width_of(request.args.get("width"), runtime.settings.page_image_max_width)
    body, points = page_images.image(runtime, job, page, width)
    response = Response(body, content_type="image/png")
    # The page's size in PDF points: the viewer maps the text blocks' bboxes with it.
    response.headers["X-Page-Points"] = points
    # The same URL always draws the same picture of this run; the token makes it private.
    response.headers["Cache-Control"] = "private, max-age=3600"
    return response
