"""Backpressure and bounds: jobs in flight per tenant (429), queue depth (503), body sizes.

Checked before a request creates work (a new job, or a finished job run again), never when
it completes an upload already counted. Both checks read shared state (the tenant's set of
open jobs and the queue's length, in the state store), so every web process agrees; two
requests racing at the limit may both pass, so the limit can be exceeded by the number of
concurrent requests.
"""

from __future__ import annotations

import json

from flask import Blueprint, Flask, request

from core.errors import BadRequest, QueueFull, TooLarge, TooManyJobs
from core.services import Services
from functions.auth import current_tenant
from functions.context import services

bp = Blueprint("limits", __name__)
# Seconds a client should wait: a job takes seconds, a full queue drains more slowly.
TENANT_RETRY_AFTER = 10
QUEUE_RETRY_AFTER = 30
# Views whose body is a PDF (bounded by MAX_UPLOAD_BYTES); every other body is small JSON.
UPLOAD_VIEWS = {"documents.create_document"}
# Views whose JSON body may be larger than MAX_JSON_BYTES, and their own bound.
LARGE_BODY_VIEWS = {"batches.create_batch": 16 * 1024 * 1024}  # 10,000 sources
# No request pdfq takes nests deeper than a few levels; code walking a deeper value by
# recursion (or the parser itself, at thousands of '[') would exhaust Python's stack.
MAX_JSON_DEPTH = 32


def check_capacity(runtime: Services, tenant: str):
    """Raise QueueFull or TooManyJobs when one more job must wait; return quietly otherwise."""
    settings = runtime.settings
    if settings.queue_max_pending:
        pending = runtime.queue.pending()
        if pending >= settings.queue_max_pending:
            raise QueueFull(
                f"{pending} tasks are waiting in the queue (QUEUE_MAX_PENDING is "
                f"{settings.queue_max_pending}); try again shortly.",
                retry_after=QUEUE_RETRY_AFTER,
            )
    limit = settings.tenant_max_jobs_in_flight
    if limit and runtime.records.in_flight(tenant) >= limit:
        raise TooManyJobs(
            f"You have {limit} jobs in flight, the most allowed (TENANT_MAX_JOBS_IN_FLIGHT); "
            "wait for some to finish, or cancel some.",
            retry_after=TENANT_RETRY_AFTER,
        )


def bound_body():
    """413 before a JSON body over MAX_JSON_BYTES is read (uploads have their own limit)."""
    if request.endpoint in UPLOAD_VIEWS or request.method in ("GET", "HEAD", "OPTIONS"):
        return
    limit = services().settings.max_json_bytes
    too_large = TooLarge(f"The request body is over {limit} bytes (MAX_JSON_BYTES).")
    if request.endpoint in LARGE_BODY_VIEWS:
        limit = LARGE_BODY_VIEWS[request.endpoint]
        too_large = TooLarge(f"The request body is over {limit} bytes, this request's limit.")
    if request.content_length is not None and request.content_length > limit:
        raise too_large
    # A chunked body has no length: read (and cache, for the view) at most one byte more than
    # the limit, since Werkzeug stops quietly at the limit itself.
    request.max_content_length = limit + 1
    if len(request.get_data(cache=True)) > limit:
        raise too_large


def json_body():
    """The request's body as JSON, whatever its Content-Type; None when it is empty or not JSON
    (each view says what it expected); 400 when it nests deeper than MAX_JSON_DEPTH.

    Parsed before it is measured: json.loads is linear in the body, and the depth is then
    counted on the value, without recursion."""
    too_deep = BadRequest(f"The JSON body nests deeper than {MAX_JSON_DEPTH} levels.")
    try:
        value = json.loads(request.get_data(cache=True))
    except RecursionError:  # thousands of '[': the parser's own stack ran out
        raise too_deep from None
    except ValueError:
        return None
    if json_depth(value) > MAX_JSON_DEPTH:
        raise too_deep
    return value


def json_depth(value) -> int:
    """How deep arrays and objects nest in a parsed JSON value (a scalar is 0), counted with
    an explicit stack so that no depth exhausts Python's."""
    deepest = 0
    pending = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, depth)
        pending.extend((child, depth + 1) for child in children)
    return deepest


def register(app: Flask):
    app.before_request(bound_body)


@bp.get("/me")
def me():
    """Who the token belongs to, and how much of its limit is in use."""
    runtime, tenant = services(), current_tenant()
    settings = runtime.settings
    limit = settings.tenant_max_jobs_in_flight or None
    return {
        "tenant": tenant,
        "auth": settings.auth_enabled,
        "jobs_in_flight": runtime.records.in_flight(tenant),
        "max_jobs_in_flight": limit,
    }
