"""Job control: re-run a job now or later (Huey's schedule), cancel it, with new options.

The HTTP views and the `flask pdf reprocess | cancel` commands share these functions.
"""

from __future__ import annotations

import datetime as dt
import logging

from flask import Blueprint, request, url_for

from core import control, keys, options, retention, services
from core.errors import BadRequest, Conflict
from core.inflight import HUEY_RETRY
from core.jobs import Job, JobStatus, utc_after
from core.queue import huey
from core.settings import get_settings
from core.storage import ObjectMissing
from functions import limits, webhooks
from functions.auth import current_tenant
from functions.jobs import job_view
from functions.submission import enqueue, queue_call

log = logging.getLogger("pdfq.web")
bp = Blueprint("control", __name__)
REPROCESS_FIELDS = ("delay", "eta", "callback_url", *options.FIELDS)
MAX_DELAY = 365 * 86400
WAITING = (JobStatus.QUEUED, JobStatus.SCHEDULED)


@bp.post("/jobs/<job_id>/reprocess")
def reprocess_view(job_id: str):
    """Run the job again, at once or at `delay`/`eta`; 202 with the job queued or scheduled."""
    body = request.get_json(force=True, silent=True)
    if body is None and not request.get_data():
        body = {}
    if not isinstance(body, dict):
        raise BadRequest('Send a JSON object, e.g. {"delay": 300} or {"eta": "...Z"}.')
    unknown = sorted(set(body) - set(REPROCESS_FIELDS))
    if unknown:
        raise BadRequest(
            f"Unknown field {unknown[0]!r}; the fields are {', '.join(REPROCESS_FIELDS)}."
        )
    eta = run_at(body.get("delay"), body.get("eta"))
    new_options = options.parse(body)
    callback = webhooks.checked_url(body["callback_url"]) if body.get("callback_url") else None
    job = services.jobs().get(job_id, current_tenant())
    if job.status.terminal:  # a waiting job is counted already; a finished one comes back
        limits.check_capacity(job.tenant)
    job = reprocess(job, eta=eta, new_options=new_options, callback_url=callback)
    return job_view(job), 202, {"Location": url_for("jobs.get_job", job_id=job.id)}


@bp.post("/jobs/<job_id>/cancel")
def cancel_view(job_id: str):
    """200 with the job canceled; 202 while a running job is being stopped."""
    job, done = cancel(services.jobs().get(job_id, current_tenant()))
    view = job_view(job)
    if not done:
        view["cancel_requested"] = True
    return view, 200 if done else 202


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
            when = dt.datetime.fromisoformat(eta.strip().replace("Z", "+00:00"))
        except ValueError:
            raise BadRequest(
                f"Field 'eta': {eta!r} is not an ISO 8601 time, e.g. 2026-01-31T02:00:00Z."
            ) from None
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.UTC)  # a time without an offset is UTC
        seconds = (when - dt.datetime.now(dt.UTC)).total_seconds()
        if seconds > MAX_DELAY:
            raise BadRequest("Field 'eta' is more than a year away.")
        return utc_after(seconds) if seconds > 0 else None  # a time passed means now
    return None


def reprocess(
    job: Job, *, eta: str | None, new_options: dict | None = None, callback_url: str | None = None
) -> Job:
    """Queue (or schedule for `eta`) a job that is finished or still waiting, with new options."""
    if job.status in (JobStatus.PROCESSING, JobStatus.AWAITING_UPLOAD):
        what = "running" if job.status is JobStatus.PROCESSING else "waiting for its upload"
        raise Conflict(f"Job {job.id} is {what}; it can be re-run once it has finished.")
    store, inflight = services.jobs(), services.inflight()
    try:
        store.storage.head(job.source_key)
    except ObjectMissing:
        if job.queued_at is None:  # canceled or refused before any PDF was accepted
            raise Conflict(
                f"Job {job.id} never had a PDF accepted; there is nothing to re-run."
            ) from None
        raise retention.source_expired(job) from None
    settings = get_settings()
    changes = {
        "options": options.merged(job.options, new_options or {}, settings),
        "error": None,
        "pages_done": None,
        "pages_total": None,
        "warnings": [],
        "scheduled_for": eta,
    }
    if callback_url:
        changes["callback_url"] = callback_url
    previous_task = inflight.enqueued_task(job.id) if job.status in WAITING else None
    if previous_task == HUEY_RETRY:
        previous_task = None  # a retry cannot be revoked by id; the worker skips it instead
    to = JobStatus.SCHEDULED if eta else JobStatus.QUEUED
    job = store.transition(job, to, expect=job.status, **changes)
    control.clear_cancel(services.state(), job.id)
    if previous_task:
        # The job's old task is still in the queue or schedule: it must not run it early.
        queue_call(huey.revoke_by_id, previous_task, None, True)
    # If this fails (503), the record already says queued/scheduled: recovery enqueues it.
    enqueue(job, eta)
    log.info("job %s: re-run %s", job.id, f"scheduled for {eta}" if eta else "queued")
    return job


def cancel(job: Job) -> tuple[Job, bool]:
    """(job, True) when it ended canceled now; (job, False) when a worker is stopping it."""
    store, inflight, state = services.jobs(), services.inflight(), services.state()
    for _ in range(3):
        if job.status.terminal:
            raise Conflict(f"Job {job.id} is already {job.status.value}; nothing to cancel.")
        if job.status is JobStatus.PROCESSING and inflight.holder(job.id):
            control.request_cancel(state, job.id)  # the worker stops at its next page
            return job, False
        task = inflight.enqueued_task(job.id)
        try:
            job = store.transition(
                job,
                JobStatus.CANCELED,
                expect=job.status,
                attempts=[*job.attempts, store.attempt("api", "canceled")],
            )
        except Conflict:
            job = store.get(job.id, job.tenant)  # it moved (started, perhaps): look again
            continue
        if task and task != HUEY_RETRY:
            queue_call(huey.revoke_by_id, task, None, True)
        inflight.forget(job.id)
        return job, True
    raise Conflict(f"Job {job.id} is changing too often to cancel; try again.")


def jobs_in_status(status: JobStatus, tenant: str | None = None) -> list[Job]:
    """Every job in `status` (of one tenant, or all): a scan of the records under jobs/."""
    store = services.jobs()
    prefix = keys.RECORDS_PREFIX + (f"{tenant}/" if tenant else "")
    found = []
    for key in store.storage.list_keys(prefix):
        try:
            owner, job_id = keys.parse_record_key(key)
        except ValueError:
            continue  # not a job record
        job = store.get(job_id, owner)
        if job.status is status:
            found.append(job)
    return found
