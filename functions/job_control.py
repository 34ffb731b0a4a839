"""Job control over HTTP: re-run a job now or later (Huey's schedule), with new options,
add outputs to a finished one, cancel it, or erase it. The moves themselves are the
lifecycle's; `flask pdf reprocess | cancel | delete` make the same calls."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, request, url_for

from consumer import page_images
from core.clock import parse_client_time, utc_after
from core.errors import BadRequest, JobDeleted, ObjectMissing
from core.jobs import added, options, retention
from core.webhooks import check_url
from functions import limits
from functions.auth import current_tenant
from functions.context import services
from functions.documents import check_fields
from functions.job_views import job_view

bp = Blueprint("control", __name__)
REPROCESS_FIELDS = ("delay", "eta", "callback_url", *options.FIELDS)
MAX_DELAY = 365 * 86400


@bp.post("/jobs/<job_id>/reprocess")
def reprocess_view(job_id: str):
    """Run the job again, at once or at `delay`/`eta`; 202 with the job queued or scheduled."""
    body = limits.json_body()
    if body is None and not request.get_data():
        body = {}
    if not isinstance(body, dict):
        raise BadRequest('Send a JSON object, e.g. {"delay": 300} or {"eta": "...Z"}.')
    check_fields(body, REPROCESS_FIELDS)
    runtime = services()
    eta = run_at(body.get("delay"), body.get("eta"))
    new_options = options.parse(body, settings=runtime.settings)
    callback = (
        check_url(body["callback_url"], runtime.settings) if body.get("callback_url") else None
    )
    job = runtime.records.get(job_id, current_tenant())
    if job.status.terminal:  # a waiting job is counted already; a finished one comes back
        limits.check_capacity(runtime, job.tenant)
    job = runtime.lifecycle.reprocess(job, eta=eta, new_options=new_options, callback_url=callback)
    return job_view(job), 202, {"Location": url_for("jobs.get_job", job_id=job.id)}


@bp.post("/jobs/<job_id>/outputs")
def add_outputs_view(job_id: str):
    """Make outputs a succeeded job did not compute (tables, figures) from its stored PDF,
    beside its result, without extracting its text again: 202 with them pending, 200 when
    it has them all already (core/jobs/added.py)."""
    body = limits.json_body()
    check_fields(body if isinstance(body, dict) else {}, ("outputs",))
    runtime = services()
    job = runtime.records.get(job_id, current_tenant())
    wanted = added.asked(job, body)
    if not wanted:
        return job_view(job), 200
    try:
        runtime.storage.head(job.source_key)
    except ObjectMissing:
        days = runtime.settings.source_retention_days
        raise retention.source_expired(job, days) from None
    limits.check_capacity(runtime, job.tenant)
    job = runtime.lifecycle.ask_outputs(job, wanted)
    return job_view(job), 202, {"Location": url_for("jobs.get_job", job_id=job.id)}


@bp.post("/jobs/<job_id>/cancel")
def cancel_view(job_id: str):
    """200 with the job canceled; 202 while a running job is being stopped."""
    runtime = services()
    job, done = runtime.lifecycle.cancel(runtime.records.get(job_id, current_tenant()))
    view = job_view(job)
    if not done:
        view["cancel_requested"] = True
    return view, 200 if done else 202


@bp.delete("/jobs/<job_id>")
def delete_view(job_id: str):
    """204 once the job's PDF, results and parts are erased (a running job is stopped first);
    410 with `deleted_at` when it was erased before."""
    runtime = services()
    job = runtime.records.get(job_id, current_tenant(), tombstone=True)
    tombstone, erased_now = runtime.lifecycle.erase(job)
    page_images.forget(job)  # this process's copy for the viewer, if it has one
    if not erased_now:
        raise JobDeleted(
            f"Job {job_id} was deleted at {tombstone.status_changed_at}.",
            deleted_at=tombstone.status_changed_at,
        )
    return "", 204


def run_at(delay, eta) -> str | None:
    """The ISO time to run at from `delay` (seconds) or `eta` (ISO 8601); None for now."""
    if delay is not None and eta is not None:
        raise BadRequest("Give either 'delay' or 'eta', not both.")
    if delay is not None:
        if isinstance(delay, bool) or not isinstance(delay, int | float):
            raise BadRequest("Field 'delay' must be a number of seconds.")
        if not 0 <= delay <= MAX_DELAY:
            raise BadRequest(f"Field 'delay' must be between 0 and {MAX_DELAY} seconds.")
        return utc_after(delay) if delay > 0 else None
    if eta is not None:
        if not isinstance(eta, str):
            raise BadRequest("Field 'eta' must be an ISO 8601 time, e.g. 2026-01-31T02:00:00Z.")
        try:
            when = parse_client_time(eta)
        except ValueError:
            raise BadRequest(
                f"Field 'eta': {eta!r} is not an ISO 8601 time, e.g. 2026-01-31T02:00:00Z."
            ) from None
        seconds = (when - dt.datetime.now(dt.UTC)).total_seconds()
        if seconds > MAX_DELAY:
            raise BadRequest("Field 'eta' is more than a year away.")
        return utc_after(seconds) if seconds > 0 else None  # a time passed means now
    return None
