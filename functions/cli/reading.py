"""`flask pdf status | result | queue | failed | provision`: read jobs and the queue."""

from __future__ import annotations

import datetime as dt
import json
import sys

import click
from flask import current_app
from flask.cli import with_appcontext

from core.errors import JobDeleted, NotFound
from core.exitcodes import NOT_FOUND
from core.jobs import listing, results
from core.jobs.index import millis
from core.jobs.model import Job, JobStatus
from core.services import queue_summary
from functions.cli import rerun
from functions.cli.common import (
    error_text,
    json_option,
    line,
    reports_errors,
    tenant_option,
)
from functions.context import services
from functions.job_views import job_view
from infra import provision as provisioning

_DURATION_UNITS = {"m": 60, "h": 3600, "d": 86400}


def job_json(job: Job) -> dict:
    """The job as GET /jobs/<id> shows it (links included)."""
    with current_app.test_request_context():
        return job_view(job)


@click.command()
@with_appcontext
@click.argument("job_ids", nargs=-1, required=True)
@tenant_option
@json_option
@reports_errors
def status(job_ids, tenant, as_json):
    """Print each job's status: status, id, file, pages done/total, error or warnings."""
    records = services().records
    missing, deleted = [], []
    for job_id in job_ids:
        try:
            job = records.get(job_id, tenant)
        except JobDeleted as gone:  # what the API answers 410 `deleted` for
            deleted.append(f"{job_id} (at {gone.deleted_at})" if gone.deleted_at else job_id)
            continue
        except NotFound:  # reported once for every id missing; other errors stop the run
            missing.append(job_id)
            continue
        view = job_json(job)
        if as_json:
            click.echo(json.dumps(view))
            continue
        pages = f"{view['pages_done']}/{view['pages_total']}" if view["pages_total"] else None
        detail = error_text(job.error) or (",".join(job.warnings) or None)
        click.echo(line(job.status.value, job.id, job.filename, pages, detail))
    if deleted:
        # Exit 4 as for an unknown id (the job is gone), in the API's words (410 deleted).
        click.echo(f"pdf: deleted: job {', '.join(deleted)} was deleted", err=True)
    if missing:
        click.echo(f"pdf: not_found: no job {', '.join(missing)}", err=True)
    if missing or deleted:
        sys.exit(NOT_FOUND)


@click.command()
@with_appcontext
@click.argument("job_id")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@click.option("-o", "--output", type=click.File("wb"), default="-", help="Write here.")
@tenant_option
@reports_errors
def result(job_id, fmt, output, tenant):
    """Write a succeeded job's text (or, with --format json, its pages and metadata)."""
    runtime = services()
    job = runtime.records.get(job_id, tenant)
    days = runtime.settings.result_retention_days
    if fmt == "text":
        for chunk in results.chunks(runtime.storage, job, "text", days):
            output.write(chunk)
        return
    body = results.document(runtime.storage, job, days)
    output.write(json.dumps(body, ensure_ascii=False).encode() + b"\n")


@click.command()
@with_appcontext
@json_option
@reports_errors
def queue(as_json):
    """Print the queue: tasks pending, scheduled, jobs in flight, and jobs by status."""
    shape = queue_summary(services())
    counts = shape.pop("jobs")
    shape.update(in_flight=counts["processing"], jobs=counts)
    if as_json:
        click.echo(json.dumps(shape))
        return
    for name in ("queue", "backend", "pending", "scheduled", "in_flight"):
        click.echo(line(name, shape[name]))
    for name, count in counts.items():
        click.echo(line(f"jobs.{name}", count))


def _duration(text: str) -> dt.timedelta:
    try:
        return dt.timedelta(seconds=int(text[:-1]) * _DURATION_UNITS[text[-1]])
    except (KeyError, ValueError, IndexError):
        raise click.BadParameter(f"{text!r}: expected a number and m, h or d, e.g. 7d") from None


def since_millis(text: str | None) -> int | None:
    """--since 30m | 12h | 7d as the index's milliseconds; None without it."""
    if text is None:
        return None
    return millis((dt.datetime.now(dt.UTC) - _duration(text)).isoformat())


@click.command()
@with_appcontext
@click.option("--since", default="7d", show_default=True, help="How far back: 30m, 12h, 7d.")
@click.option("--limit", default=100, show_default=True, help="At most this many, newest first.")
@click.option("--retry", is_flag=True, help="Re-run the jobs listed (see reprocess).")
@click.option("--delay", type=float, help="With --retry: run this many seconds from now.")
@click.option("--at", help="With --retry: run at this time (ISO 8601, or HH:MM UTC).")
@json_option
@reports_errors
def failed(since, limit, retry, delay, at, as_json):
    """List failed jobs of every tenant: finished at, id, tenant, file, error.

    Jobs that failed within --since, newest first, from the job index: one listing per
    tenant and one GET per job shown. With --retry each listed job is re-run and its line
    shows the new status.
    """
    eta = rerun.when(delay, at) if retry else None
    records = services().records
    jobs = listing.newest_across_tenants(records, JobStatus.FAILED, since_millis(since), limit)
    if retry:
        outcomes = [rerun.rerun(job, eta) for job in jobs[:limit]]
        click.echo(f"pdf: {len(outcomes)} failed jobs re-run", err=True)
        return rerun.report(outcomes, [], as_json)
    for job in jobs[:limit]:
        if as_json:
            click.echo(json.dumps(job_json(job)))
        else:
            when = job.finished_at or job.updated_at
            click.echo(line(when, job.id, job.tenant, job.filename, error_text(job.error)))
    click.echo(f"pdf: {len(jobs)} failed since {since}", err=True)


@click.command()
@with_appcontext
@click.option("--check", is_flag=True, help="Report what would change; change nothing.")
def provision(check):
    """Create or check the bucket and its rules, and check Redis (as the release phase does)."""
    runtime = services()
    sys.exit(provisioning.run(runtime.storage, runtime.settings, check))
