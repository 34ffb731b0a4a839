"""Server-Sent Events: GET /jobs/<id>/events and GET /batches/<id>/events.

A stream holds a web thread, so none is held for a whole job: each stream lasts at most
EVENTS_WINDOW_SECONDS, then ends with a `retry:` hint, and the client (an EventSource does it by
itself) reconnects with `Last-Event-ID`, which says what it has seen. A job's events come
from what its record keeps: its numbered status changes (`moves`, the last 30) and its live
progress, read every POLL_SECONDS from the state store (one read, no storage request), so a
listener that reconnects gets every status it missed, in order, and never one twice. At most
EVENTS_MAX_PER_TENANT streams are open at once per tenant, and at most half the web's threads
across the service (slots in the state store, each held at most a window); one more is 429.

Events: `status` (data: {"status", "at"}), `progress` ({"pages_done", "pages_total"}) and
`end` (the job as GET /jobs/<id> shows it), after which the stream closes and a client stops.
Ids: a job's `<move number>.<pages done>`; a batch's `<jobs ended>`. A batch's stream reads
its counters every second (the state store) and its record (storage) only while its jobs are
being made, once all have ended, and every ten seconds.
"""

from __future__ import annotations

import json
import time
import uuid

from flask import Blueprint, Response, request, stream_with_context

from core import keys
from core.errors import NotFound, TooManyJobs
from core.jobs import batches
from core.jobs.model import Job
from functions.auth import current_tenant
from functions.batch_views import batch_view
from functions.context import services
from functions.job_views import job_view

bp = Blueprint("live_events", __name__)
POLL_SECONDS = 0.5
RETRY_MS = 1000


def _event(kind: str, event_id: str, data: dict) -> str:
    return f"id: {event_id}\nevent: {kind}\ndata: {json.dumps(data, sort_keys=True)}\n\n"


def _last_seen() -> tuple[int, int]:
    """(move number, pages done) from Last-Event-ID (or ?last_event_id=); (0, -1) if none."""
    raw = request.headers.get("Last-Event-ID") or request.args.get("last_event_id") or ""
    move, _, pages = raw.partition(".")
    if move.isdigit() and len(move) < 10:
        return int(move), int(pages) if pages.isdigit() and len(pages) < 10 else -1
    return 0, -1


def _slots(tenant: str) -> list[tuple[str, str]]:
    """A slot of the service's and one of the tenant's, each held a window (and a little):
    429 when either kind is all taken. The service's bound is half the web's threads
    (WEB_CONCURRENCY workers of 4, gunicorn.conf.py), so streams never take them all."""
    runtime, holder = services(), uuid.uuid4().hex
    settings = runtime.settings
    ttl = int(settings.events_window_seconds) + 5
    bounds = [("*", max(1, settings.web_concurrency * 2)), (tenant, settings.events_max_per_tenant)]
    taken: list[tuple[str, str]] = []
    for owner, most in bounds:
        for number in range(most):
            key = keys.listener_slot_key(owner, number)
            if runtime.state.set_if_absent(key, holder, ttl):
                taken.append((key, holder))
                break
        else:
            for slot in taken:
                runtime.state.delete_if_equal(*slot)
            whose = "for you" if owner == tenant else "on this server"
            raise TooManyJobs(
                f"{most} event streams are open {whose} already (EVENTS_MAX_PER_TENANT, "
                "WEB_CONCURRENCY); close one, or poll GET /jobs/<id>.",
                retry_after=int(settings.events_window_seconds),
            )
    return taken


def _stream(tenant: str, events) -> Response:
    runtime = services()
    slots = _slots(tenant)

    def body():
        yield f"retry: {RETRY_MS}\n\n"
        yield from events(time.monotonic() + runtime.settings.events_window_seconds)

    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    response = Response(stream_with_context(body()), mimetype="text/event-stream", headers=headers)
    # Freed when the response is closed: at the window's end, or when the client goes.
    response.call_on_close(lambda: [runtime.state.delete_if_equal(*slot) for slot in slots])
    return response


@bp.get("/jobs/<job_id>/events")
def job_events(job_id: str):
    runtime, tenant = services(), current_tenant()
    runtime.records.get(job_id, tenant)  # 404 / 410 before the stream starts
    seen_move, seen_pages = _last_seen()

    def events(deadline: float):
        nonlocal seen_move, seen_pages
        while True:
            try:
                job = runtime.records.get(job_id, tenant, tombstone=True)
            except NotFound:
                return
            for move in job.moves:
                if move["n"] > seen_move:
                    seen_move, seen_pages = move["n"], -1
                    data = {"status": move["status"], "at": move["at"]}
                    yield _event("status", f"{seen_move}.0", data)
            if job.status.terminal:
                yield _event("end", f"{seen_move}.0", job_view(job))
                return
            yield from _progress(job)
            if time.monotonic() + POLL_SECONDS > deadline:
                return
            time.sleep(POLL_SECONDS)

    def _progress(job: Job):
        nonlocal seen_pages
        done, total = runtime.inflight.progress(job)
        if done is not None and done != seen_pages:
            seen_pages = done
            data = {"pages_done": done, "pages_total": total}
            yield _event("progress", f"{seen_move}.{done}", data)

    return _stream(tenant, events)


@bp.get("/batches/<batch_id>/events")
def batch_events(batch_id: str):
    runtime, tenant = services(), current_tenant()
    batches.get(runtime, tenant, batch_id)  # 404 before the stream starts
    seen, _ = _last_seen()
    seen = seen if request.headers.get("Last-Event-ID") else -1

    def events(deadline: float):
        nonlocal seen
        batch, looks = batches.get(runtime, tenant, batch_id), 0
        while True:
            view = batch_view(batch)  # the record read again only when it may have changed
            if batch.ended_at:
                yield _event("end", str(view["jobs_done"]), view)
                return
            if view["jobs_done"] != seen:
                seen = view["jobs_done"]
                yield _event("progress", str(seen), view)
            if time.monotonic() + POLL_SECONDS * 2 > deadline:
                return
            time.sleep(POLL_SECONDS * 2)
            looks += 1
            if seen >= batch.total or batch.status == "making" or looks % 10 == 0:
                try:
                    batch = batches.get(runtime, tenant, batch_id)
                except NotFound:
                    return

    return _stream(tenant, events)
