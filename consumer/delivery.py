"""Webhook deliveries: POST a signed JSON body to a job's callback URL, log each attempt.

Run by the Huey task deliver_webhook (consumer/tasks.py), which Huey retries with backoff
while this raises WebhookFailed; every attempt, good or bad, is appended to the job's
`deliveries` by the lifecycle.

Each attempt resolves the host once (core/egress.py refuses any address that is not
public) and connects to those addresses, each in turn, with the name in the Host header and
in TLS SNI, so a DNS answer that changes between check and connect leads nowhere. One
deadline, WEBHOOK_TIMEOUT, bounds the whole attempt: the lookup, connecting, sending and
reading the answer; a stalled resolver or a receiver that dribbles bytes is cut off. The log
a tenant sees holds only the HTTP status or one generic word per kind of failure, never the
network's own error (which would tell an open port from a closed one); the worker's log
keeps the detail for operators.

Deliveries share the extraction workers, but at most WEBHOOK_MAX_CONCURRENT of them run at
once across the whole service (slots in the state store, each held at most WEBHOOK_TIMEOUT
and freed only by its holder): a delivery that finds every slot taken goes back on the
queue a little later, with the attempts it has left (waiting is not an attempt), so slow
receivers can never hold more than that many workers.
"""

from __future__ import annotations

import dataclasses
import http.client
import json
import logging
import math
import threading
import time
import uuid

from core import egress, keys, webhooks
from core.clock import utcnow
from core.errors import NotFound, PdfqError, WebhookFailed
from core.jobs import batches
from core.jobs.model import Job
from core.services import Services

log = logging.getLogger("pdfq.webhooks")
# What the delivery log says when no HTTP status came back (see the module's docstring).
REFUSED = "refused: the callback URL's host is not allowed"
NO_ANSWER = "no answer: the receiver could not be reached or did not answer in time"
SLOT_RETRY_SECONDS = 2  # a delivery that found every slot taken looks again this much later
MAX_ANSWER_BYTES = 64 * 1024
BATCH_FINISHED = "batch.finished"  # read from a receiver's body, then the connection is closed


def body_for(job: Job, event: str) -> bytes:
    payload = {
        "event": event,
        "job": {
            "id": job.id,
            "status": job.status.value,
            "filename": job.filename,
            "pages_total": job.pages_total,
            "finished_at": job.finished_at,
            "error": job.error,
            "warnings": job.warnings,
            "result": f"/api/v1/pdf/jobs/{job.id}/result",
        },
    }
    return json.dumps(payload, sort_keys=True).encode()


class SlotsBusy(Exception):
    """Every delivery slot is taken: the task goes back on the queue, its attempts left kept."""


def deliver(
    services: Services, tenant: str, job_id: str, event: str, attempt: int, *, last: bool = True
):
    """One attempt; raises WebhookFailed so the task is retried, SlotsBusy to wait a turn.
    Nothing is sent once the job owes no webhook for `event` (delivered already, erased)."""
    try:
        job = services.records.get(job_id, tenant)
    except NotFound:
        return
    if not job.callback_url or job.webhook_owed != event:
        return
    slot = _take_slot(services)
    if slot is None:
        log.info("job %s: every webhook slot is busy; delivering later", job_id)
        raise SlotsBusy()
    try:
        outcome = _attempt(services, job, event, attempt)
    finally:
        _free_slot(services, *slot)
    services.lifecycle.record_delivery(job, outcome, last=last)
    if not outcome["ok"]:
        raise WebhookFailed(f"job {job_id}: {outcome.get('error') or outcome['status']}")
    log.info("job %s: webhook delivered (%s)", job_id, event)


def deliver_batch(services: Services, tenant: str, batch_id: str, attempt: int):
    """One attempt of a batch's `batch.finished` webhook (its callback URL, signed as a job's);
    raises WebhookFailed so the task is retried, SlotsBusy to wait a turn."""
    try:
        batch = batches.get(services, tenant, batch_id)
    except NotFound:  # erased since
        return
    body = json.dumps(
        {
            "event": BATCH_FINISHED,
            "batch": {
                "id": batch.id,
                "status": batch.status,
                "total": batch.total,
                "counts": batch.counts,
                "ended_at": batch.ended_at,
                "manifest": f"/api/v1/pdf/batches/{batch.id}/manifest",
            },
        },
        sort_keys=True,
    ).encode()
    slot = _take_slot(services)
    if slot is None:
        raise SlotsBusy()
    try:
        outcome = _send(
            services, tenant, batch.callback_url, body, attempt, BATCH_FINISHED, f"batch {batch_id}"
        )
    finally:
        _free_slot(services, *slot)
    if not outcome["ok"]:
        raise WebhookFailed(f"batch {batch_id}: {outcome.get('error') or outcome['status']}")
    log.info("batch %s: webhook delivered", batch_id)


def _attempt(services: Services, job: Job, event: str, attempt: int) -> dict:
    """The outcome of one POST of a job's event, as the job's delivery log keeps it."""
    body = body_for(job, event)
    return _send(services, job.tenant, job.callback_url, body, attempt, event, f"job {job.id}")


def _send(
    services: Services, tenant: str, url: str, body: bytes, attempt: int, event: str, what: str
) -> dict:
    """The outcome of one signed POST of `body` to `url`, on behalf of `what`."""
    settings = services.settings
    outcome: dict = {"at": utcnow(), "event": event, "attempt": attempt, "status": None}
    deadline = time.monotonic() + settings.webhook_timeout
    try:
        # Resolved again at each attempt (DNS may have changed), within the attempt's time.
        target = webhooks.parse(url, settings)
        addresses = egress.resolve(
            target.host,
            target.port,
            deadline - time.monotonic(),
            allow_private=settings.webhook_allow_private,
        )
    except (PdfqError, egress.Refused) as error:
        log.warning("%s: webhook refused: %s", what, getattr(error, "message", error))
        outcome["error"] = REFUSED
    except egress.Unresolved as error:
        log.warning("%s: webhook lookup failed: %s", what, error)
        outcome["error"] = NO_ANSWER
    else:
        target = dataclasses.replace(target, addresses=addresses)
        secret = webhooks.tenant_secret(settings.webhook_secret, tenant)
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "pdfq-webhook",
            webhooks.SIGNATURE_HEADER: webhooks.signature(secret, int(time.time()), body),
        }
        try:
            outcome["status"] = post(target, headers, body, deadline)
        except (OSError, ValueError, http.client.HTTPException) as error:
            log.warning(
                "%s: webhook to %s (%s) failed: %s: %s",
                what,
                target.host,
                ", ".join(target.addresses),
                type(error).__name__,
                error,
            )
            outcome["error"] = NO_ANSWER
        else:
            if not 200 <= outcome["status"] < 300:
                outcome["error"] = f"HTTP {outcome['status']}"
                log.warning("%s: webhook to %s failed: %s", what, target.host, outcome["error"])
    outcome["ok"] = outcome["status"] is not None and 200 <= outcome["status"] < 300
    return outcome


def post(target: webhooks.Target, headers: dict, body: bytes, deadline: float) -> int:
    """POST `body` to the pinned addresses of `target` (the first that takes a connection)
    before `deadline` (time.monotonic()); the HTTP status. A redirect is an answer like any
    other (never followed)."""
    timeout = max(deadline - time.monotonic(), 0.001)
    connection = egress.open_connection(target, deadline)
    # The socket's own timeout bounds each wait; this timer bounds their sum.
    watchdog = threading.Timer(timeout, egress.cut, args=(connection,))
    watchdog.daemon = True
    watchdog.start()
    try:
        connection.request("POST", target.path, body=body, headers=headers)
        response = connection.getresponse()
        response.read(MAX_ANSWER_BYTES)
        if time.monotonic() > deadline:
            raise TimeoutError("the receiver answered after the deadline")
        return response.status
    except OSError:
        if time.monotonic() >= deadline:
            raise TimeoutError("no complete answer within WEBHOOK_TIMEOUT") from None
        raise
    finally:
        watchdog.cancel()
        connection.close()


# --- the service-wide bound on deliveries running at once ---


def _take_slot(services: Services) -> tuple[str, str] | None:
    """(state key, holder) of a free delivery slot, now held; None when all are busy."""
    settings = services.settings
    ttl = math.ceil(settings.webhook_timeout) + 5  # outlives the attempt, never a dead worker
    holder = uuid.uuid4().hex
    for number in range(settings.webhook_max_concurrent):
        key = keys.webhook_slot_key(number)
        if services.state.set_if_absent(key, holder, ttl):
            return key, holder
    return None


def _free_slot(services: Services, key: str, holder: str):
    """Free the slot if this delivery still holds it: one that outlived its TTL must not free
    the delivery that took the slot since."""
    try:
        services.state.delete_if_equal(key, holder)
    except PdfqError as error:  # the slot's TTL frees it anyway
        log.warning("could not free webhook slot %s: %s", key, error.message)
