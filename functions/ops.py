"""Operations: health (Redis and S3) and the queue's shape. The seed's two paths, unchanged."""

from __future__ import annotations

from flask import Blueprint

from core import services
from core.errors import PdfqError
from core.queue import huey
from core.settings import get_settings
from functions.auth import current_tenant, public
from functions.errors import error_response
from functions.submission import queue_call

bp = Blueprint("ops", __name__)


def _check(fn) -> dict:
    try:
        fn()
    except PdfqError as exc:
        return {"ok": False, "error": exc.message}
    except Exception as exc:  # a health check reports every failure, whatever its type
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
    return {"ok": True}


def _queue_ping():
    if get_settings().redis_url:
        services.state().ping()  # same Redis, with pdfq's own error message
    else:
        huey.pending_count()


@bp.get("/health")
@public  # platforms' health checks carry no token
def health():
    """200 when the queue and storage answer; 503 naming what is down."""
    settings = get_settings()
    checks = {
        "queue": {"backend": settings.queue_backend, **_check(_queue_ping)},
        "storage": {"bucket": settings.s3_bucket, **_check(services.storage().ping)},
    }
    down = [name for name, check in checks.items() if not check["ok"]]
    if down:
        details = "; ".join(f"{name}: {checks[name]['error']}" for name in down)
        return error_response(503, "unhealthy", f"Down: {details}", retry_after=30, checks=checks)
    return {"status": "ok", "checks": checks}


@bp.get("/queue/status")
def queue_status():
    """Tasks waiting and scheduled (the whole queue's), and the caller's jobs by status."""
    return {
        "queue": get_settings().queue_name,
        "backend": get_settings().queue_backend,
        "pending": queue_call(huey.pending_count),
        "scheduled": queue_call(huey.scheduled_count),
        "jobs": services.jobs().counts(current_tenant()),
    }
