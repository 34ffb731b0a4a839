"""`flask pdf reprocess | cancel`: re-run jobs now or at a time, stop jobs."""

from __future__ import annotations

import datetime as dt
import json
import re
import sys

import click
from flask.cli import with_appcontext

from core.errors import BadRequest, NotFound, PdfqError
from core.exitcodes import FAILED, NOT_FOUND
from core.jobs import listing
from core.jobs.model import Job, JobStatus
from functions.cli.common import error_text, fail, json_option, line, reports_errors, tenant_option
from functions.context import services
from functions.job_control import run_at

_CLOCK = re.compile(r"^(\d{1,2}):(\d{2})$")
RERUNNABLE = ("failed", "succeeded", "canceled", "queued", "scheduled")


def when(delay: float | None, at: str | None) -> str | None:
    """The ISO time to run at: --delay seconds, --at ISO 8601, or --at HH:MM (next, UTC)."""
    if at and (match := _CLOCK.match(at.strip())):
        hour, minute = int(match[1]), int(match[2])
        if hour > 23 or minute > 59:
            raise click.BadParameter(f"{at!r}: not a time of day", param_hint="--at")
        now = dt.datetime.now(dt.UTC)
        target = now.replace(hour=hour, minute=minute, second=0, microsecond=0)
        if target <= now:
            target += dt.timedelta(days=1)
        at = target.isoformat()
    try:
        return run_at(delay, at)
    except BadRequest as error:
        hint = "--delay" if "delay" in error.message else "--at"
        raise click.BadParameter(error.message, param_hint=hint) from None


def _jobs(job_ids, status, tenant) -> tuple[list[Job], list[str]]:
    """The jobs named, or every job in `status` (all tenants, from the job index);
    and the ids not found."""
    records = services().records
    if status:
        found = []
        for owner in records.tenants():
            query = listing.Query(owner, JobStatus(status))
            found += listing.every(records, query)
        return found, []
    found, missing = [], []
    for job_id in job_ids:
        try:
            found.append(records.get(job_id, tenant))
        except NotFound:
            missing.append(job_id)
    return found, missing


def report(outcomes: list[tuple[Job, dict | None]], missing: list[str], as_json: bool):
    for job, error in outcomes:
        if as_json:
            click.echo(json.dumps({"job_id": job.id, "status": job.status.value, "error": error}))
        else:
            detail = error_text(error) or job.scheduled_for
            click.echo(line(job.status.value, job.id, job.tenant, job.filename, detail))
    if missing:
        fail(f"not_found: no job {', '.join(missing)}", NOT_FOUND)
    if any(error for _, error in outcomes):
        sys.exit(FAILED)


@click.command()
@with_appcontext
@click.argument("job_ids", nargs=-1)
@click.option("--status", type=click.Choice(RERUNNABLE), help="Every job in this status.")
@click.option("--delay", type=float, help="Run this many seconds from now.")
@click.option("--at", help="Run at this time: ISO 8601, or HH:MM (the next one, UTC).")
@tenant_option
@json_option
@reports_errors
def reprocess(job_ids, status, delay, at, tenant, as_json):
    """Run jobs again, now or later: the JOB_IDs, or with --status every job in that status.

    Lines: new status, id, tenant, file, scheduled time (or the error that stopped it).
    """
    if bool(job_ids) == bool(status):
        raise click.UsageError("Name JOB_IDs or give --status, not both.")
    eta = when(delay, at)
    jobs, missing = _jobs(job_ids, status, tenant)
    report([rerun(job, eta) for job in jobs], missing, as_json)
    click.echo(f"pdf: {len(jobs)} jobs {'scheduled for ' + eta if eta else 'queued'}", err=True)


def rerun(job: Job, eta: str | None) -> tuple[Job, dict | None]:
    """One job re-run; a job that cannot be (running, PDF purged) is reported, not fatal."""
    try:
        return services().lifecycle.reprocess(job, eta=eta), None
    except PdfqError as error:
        if error.retryable:
            raise  # Redis or storage down: the next job would fail too
        return job, error.to_dict()


@click.command()
@with_appcontext
@click.argument("job_ids", nargs=-1, required=True)
@tenant_option
@json_option
@reports_errors
def cancel(job_ids, tenant, as_json):
    """Cancel jobs: queued or scheduled ones never run; running ones stop at the next page.

    Lines: status (canceled, or processing while it stops), id, tenant, file.
    """
    jobs, missing = _jobs(job_ids, None, tenant)
    outcomes = []
    for job in jobs:
        try:
            job, _ = services().lifecycle.cancel(job)
            outcomes.append((job, None))
        except PdfqError as error:
            if error.retryable:
                raise
            outcomes.append((job, error.to_dict()))
    report(outcomes, missing, as_json)
