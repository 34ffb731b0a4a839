"""GET /metrics: Prometheus text for the queue, jobs by status and the jobs' outcomes.

At the root, where Prometheus looks by default. Every number comes from the shared queue and
state store, so any gunicorn worker on any machine gives the same page. METRICS_TOKEN, when
set, must come as `Authorization: Bearer <token>` (Prometheus' `authorization` option).
"""

from __future__ import annotations

import hmac

from flask import Blueprint, Response, request

from core import metrics
from core.errors import NotFound, Unauthorized
from functions.auth import public
from functions.context import services

bp = Blueprint("metrics", __name__)


def require_metrics_token(settings, what: str):
    """The operator's door (/metrics, /ops): METRICS_TOKEN as a bearer token, required once
    tenants exist (these pages count every tenant's jobs)."""
    if not settings.metrics_enabled:
        raise NotFound("Metrics are turned off (METRICS_ENABLED=false).")
    if settings.auth_enabled and not settings.metrics_token:
        raise Unauthorized(
            f"This server has API_TOKENS, so {what} (which counts every tenant's jobs) needs "
            "its own METRICS_TOKEN: set it, and send it as 'Authorization: Bearer <token>'."
        )
    if settings.metrics_token:
        given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(given.encode(), settings.metrics_token.encode()):
            raise Unauthorized("Send METRICS_TOKEN as 'Authorization: Bearer <token>'.")


@bp.get("/metrics")
@public  # METRICS_TOKEN, not a tenant's token: the numbers cover every tenant
def metrics_page():
    runtime = services()
    require_metrics_token(runtime.settings, "/metrics")
    body = metrics.render(
        runtime.state,
        pending=runtime.queue.pending(),
        scheduled=runtime.queue.scheduled(),
        jobs=runtime.records.counts(),
    )
    return Response(body, content_type=metrics.CONTENT_TYPE)
