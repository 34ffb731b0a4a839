"""`flask pdf jobs | delete | reindex`: browse a tenant's jobs, erase jobs, rebuild the index."""

from __future__ import annotations

import json

import click
from flask.cli import with_appcontext

from core.errors import NotFound
from core.exitcodes import NOT_FOUND
from core.jobs import listing, reindex
from core.jobs.model import JobStatus
from functions.cli.common import error_text, fail, json_option, line, reports_errors, tenant_option
from functions.cli.reading import job_json, since_millis
from functions.context import services

STATUSES = [status.value for status in JobStatus]


@click.command()
@with_appcontext
@click.option("--status", type=click.Choice(STATUSES), help="Only jobs in this status.")
@click.option("--since", help="Created (with --status: entered it) within: 30m, 12h, 7d.")
@click.option("--limit", default=50, show_default=True, help="At most this many, newest first.")
@tenant_option
@json_option
@reports_errors
def jobs(status, since, limit, tenant, as_json):
    """List a tenant's jobs newest first, as GET /jobs does: created, status, id, file, error."""
    query = listing.Query(tenant, JobStatus(status) if status else None, since_millis(since))
    found = listing.page(services().records, query, limit=limit)
    for job in found.jobs:
        if as_json:
            click.echo(json.dumps(job_json(job)))
        else:
            error = error_text(job.error)
            click.echo(line(job.created_at, job.status.value, job.id, job.filename, error))
    more = " (more: raise --limit)" if found.after else ""
    click.echo(f"pdf: {len(found.jobs)} jobs{more}", err=True)


@click.command()
@with_appcontext
@click.argument("job_ids", nargs=-1, required=True)
@tenant_option
@reports_errors
def delete(job_ids, tenant):
    """Erase jobs now (PDF, results, parts, dedup entries; running ones are stopped first).

    Lines: deleted (or already deleted), id, deleted at.
    """
    runtime, missing = services(), []
    for job_id in job_ids:
        try:
            job = runtime.records.get(job_id, tenant, tombstone=True)
        except NotFound:
            missing.append(job_id)
            continue
        tombstone, now = runtime.lifecycle.erase(job)
        outcome = "deleted" if now else "already_deleted"
        click.echo(line(outcome, tombstone.id, tombstone.status_changed_at))
    if missing:
        fail(f"not_found: no job {', '.join(missing)}", NOT_FOUND)


@click.command("reindex")
@with_appcontext
@reports_errors
def reindex_command():
    """Rebuild the job index from every record (recovery does it once by itself)."""
    runtime = services()
    rebuilt = reindex.rebuild(runtime.records, runtime.settings.reconcile_grace)
    click.echo(f"reindex: {rebuilt}")
