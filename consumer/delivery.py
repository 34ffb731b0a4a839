"""Webhook deliveries: POST a signed JSON body to a job's callback URL, log each attempt.

Run by the Huey task deliver_webhook (consumer/tasks.py), which Huey retries with backoff
while this raises WebhookFailed; every attempt, good or bad, is appended to the job's
`deliveries` by the lifecycle.
"""

from __future__ import annotations

import json
import logging
import time
import urllib.error
import urllib.request
from urllib.parse import urlsplit

from core import webhooks
from core.clock import utcnow
from core.errors import NotFound, PdfqError, WebhookFailed
from core.jobs.model import Job
from core.services import Services

log = logging.getLogger("pdfq.webhooks")


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # a 3xx is a failed delivery: a redirect could lead anywhere


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


def deliver(services: Services, tenant: str, job_id: str, event: str, attempt: int):
    """One attempt; raises WebhookFailed so the task is retried."""
    settings = services.settings
    try:
        job = services.records.get(job_id, tenant)
    except NotFound:
        return
    if not job.callback_url:
        return
    body = body_for(job, event)
    outcome: dict = {"at": utcnow(), "event": event, "attempt": attempt, "status": None}
    try:
        host = urlsplit(job.callback_url).hostname or ""
        webhooks.check_url(job.callback_url, settings)  # again: DNS may have changed
        # check_url allowed only http(s)
        request = urllib.request.Request(job.callback_url, data=body, method="POST")  # noqa: S310
        request.add_header("Content-Type", "application/json")
        request.add_header("User-Agent", "pdfq-webhook")
        request.add_header(
            webhooks.SIGNATURE_HEADER,
            webhooks.signature(
                webhooks.tenant_secret(settings.webhook_secret, job.tenant),
                int(time.time()),
                body,
            ),
        )
        opener = urllib.request.build_opener(_NoRedirects)
        with opener.open(request, timeout=settings.webhook_timeout) as response:
            outcome["status"] = response.status
    except urllib.error.HTTPError as error:
        outcome["status"] = error.code
        outcome["error"] = f"HTTP {error.code}"
    except (OSError, PdfqError) as error:
        outcome["error"] = getattr(error, "message", None) or f"{type(error).__name__}: {error}"
    outcome["ok"] = outcome["status"] is not None and 200 <= outcome["status"] < 300
    services.lifecycle.record_delivery(job, outcome)
    if not outcome["ok"]:
        log.warning("job %s: webhook to %s failed: %s", job_id, host, outcome.get("error"))
        raise WebhookFailed(f"{host}: {outcome.get('error') or outcome['status']}")
    log.info("job %s: webhook delivered (%s)", job_id, event)
