"""GET /jobs: the caller's jobs, newest first, a page at a time, from the job index."""

from __future__ import annotations

from flask import Blueprint, request, url_for

from core.clock import parse_client_time
from core.errors import BadRequest
from core.jobs import listing
from core.jobs.index import millis
from core.jobs.model import JobStatus
from functions.auth import current_tenant
from functions.context import services
from functions.job_views import job_view

bp = Blueprint("job_list", __name__)
STATUSES = [status.value for status in JobStatus]


@bp.get("/jobs")
def list_jobs():
    """`jobs` newest first (by creation; with `status`, by when they entered it) and the
    `next_cursor` of the page after, null on the last one."""
    query = listing.Query(current_tenant(), _status(), _since())
    limit = _limit()
    after = None
    if cursor := request.args.get("cursor"):
        after, since_ms = listing.decode_cursor(cursor, query)
        query = listing.Query(query.tenant, query.status, since_ms)
    found = listing.page(services().records, query, limit=limit, after=after)
    next_cursor = found.after and listing.encode_cursor(found.after, query)
    links = {"next": url_for("job_list.list_jobs", cursor=next_cursor, limit=limit)}
    return {
        "jobs": [job_view(job) for job in found.jobs],
        "next_cursor": next_cursor,
        "links": links if next_cursor else {},
    }


def _status() -> JobStatus | None:
    value = request.args.get("status")
    if value is None:
        return None
    if value not in STATUSES:
        raise BadRequest(f"status must be one of {', '.join(STATUSES)}; got {value!r}.")
    return JobStatus(value)


def _since() -> int | None:
    value = request.args.get("since")
    if value is None:
        return None
    try:
        when = parse_client_time(value)
    except ValueError:
        raise BadRequest(
            f"since: {value!r} is not an ISO 8601 time, e.g. 2026-01-31T02:00:00Z."
        ) from None
    return millis(when.isoformat())


def _limit() -> int:
    value = request.args.get("limit", str(listing.DEFAULT_LIMIT))
    valid = len(value) <= 4 and value.isascii() and value.isdigit()  # int() of 5,000 digits: 500
    if not valid or not 1 <= int(value) <= listing.MAX_LIMIT:
        most = listing.MAX_LIMIT
        raise BadRequest(f"limit must be a whole number from 1 to {most}; got {value[:20]!r}.")
    return int(value)
