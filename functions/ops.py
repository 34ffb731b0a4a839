"""Operations: health (the queue and storage) and the queue's shape, at the paths the service
has always had (/health, /queue/status)."""

from __future__ import annotations

import logging

from flask import Blueprint, jsonify

from core import metrics, ocr_support, operations
from core.errors import PdfqError
from core.services import queue_summary
from functions.auth import current_tenant, public
from functions.context import services
from functions.error_handlers import error_response, public_message
from functions.prometheus import require_metrics_token

log = logging.getLogger("pdfq.web")
bp = Blueprint("ops", __name__)


def _check(name: str, fn) -> dict:
    """{"ok": True}, or what /health may say of the failure (anyone may ask it); the log
    has the detail (hosts, ports, buckets)."""
    try:
        fn()
    except PdfqError as exc:
        log.warning("health: %s is down: %s", name, exc.message)
        return {"ok": False, "error": public_message(exc)}
    except Exception as exc:  # a health check reports every failure, whatever its type
        log.warning("health: %s is down: %s: %s", name, type(exc).__name__, exc)
        return {"ok": False, "error": f"unexpected error ({type(exc).__name__})"}
    return {"ok": True}


def _store(storage) -> dict:
    """What the store honours (docs/reliability.md: what pdfq does where it lacks one)."""
    try:
        capabilities = storage.capabilities()
    except PdfqError as exc:
        log.warning("health: storage capabilities: %s", exc.message)
        return {"capabilities": None, "capabilities_error": public_message(exc)}
    return {
        "capabilities": capabilities.to_dict(),
        "capabilities_source": storage.capabilities_source,
        "lacks": capabilities.lacking(),
    }


@bp.get("/health")
@public  # platforms' health checks carry no token
def health():
    """200 when the queue and storage answer; 503 naming what is down. `ocr` says whether
    this web process's machine can OCR, and in which languages (informational: never 503)."""
    runtime = services()
    settings = runtime.settings
    # With Redis, its ping carries pdfq's own message; the embedded queue is asked directly.
    ping_queue = runtime.state.ping if settings.redis_url else runtime.queue.pending
    checks = {
        "queue": {"backend": settings.queue_backend, **_check("queue", ping_queue)},
        "storage": {"bucket": settings.s3_bucket, **_check("storage", runtime.storage.ping)},
    }
    if checks["storage"]["ok"]:
        checks["storage"].update(_store(runtime.storage))
    down = [name for name, check in checks.items() if not check["ok"]]
    if down:
        details = "; ".join(f"{name}: {checks[name]['error']}" for name in down)
        return error_response(503, "unhealthy", f"Down: {details}", retry_after=30, checks=checks)
    ocr = ocr_support.status(settings.tessdata_prefix, settings.ocr_default, settings.ocr_languages)
    return {"status": "ok", "checks": checks, "ocr": ocr}


@bp.get("/queue/status")
def queue_status():
    """Tasks waiting and scheduled (the whole queue's), and the caller's jobs by status."""
    return queue_summary(services(), current_tenant())


@bp.get("/ops")
@public  # METRICS_TOKEN, not a tenant's token: the numbers cover every tenant
def operations_view():
    """The operator's live view, polled by the page's Operations tab: the queue, jobs
    finished a minute over the last hour, jobs running and their workers, failures by code,
    Redis and storage health, OCR languages. Never 503: a part that is down says so."""
    runtime = services()
    settings = runtime.settings
    require_metrics_token(settings, "/ops")
    ping_queue = runtime.state.ping if settings.redis_url else runtime.queue.pending
    checks = {
        "queue": {"backend": settings.queue_backend, **_check("queue", ping_queue)},
        "storage": {"bucket": settings.s3_bucket, **_check("storage", runtime.storage.ping)},
    }
    body: dict = {"checks": checks}
    if checks["queue"]["ok"]:
        now = operations.sample(runtime.state, runtime.queue)
        running = operations.running(runtime.records.live, runtime.inflight)
        body.update(
            {
                "queue": {"pending": now["depth"], "scheduled": runtime.queue.scheduled()},
                "jobs": runtime.records.counts(),
                "finished_total": now["finished"],
                "history": operations.history(runtime.state, now),
                "running": running,
                "workers": operations.workers(running),
                "failures": metrics.failures_by_code(runtime.state),
            }
        )
    body["ocr"] = ocr_support.status(
        settings.tessdata_prefix, settings.ocr_default, settings.ocr_languages
    )
    response = jsonify(body)
    response.headers["Cache-Control"] = "no-store"
    return response
