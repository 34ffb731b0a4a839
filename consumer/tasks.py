"""Huey tasks: thin wrappers over consumer.pipeline and consumer.recovery.

The consumer target is consumer.tasks.huey; the web imports enqueue_job from here.
"""

from __future__ import annotations

import logging

from huey import crontab
from huey.signals import SIGNAL_INTERRUPTED

import consumer.telemetry  # noqa: F401 - the job id on log lines, retries counted (issue 8)
from consumer import parallel, pipeline, recovery, webhooks
from core import keys, logs, services
from core.errors import PdfqError
from core.inflight import HUEY_RETRY
from core.jobs import Job, JobStatus, parse_time
from core.queue import huey
from core.settings import get_settings

__all__ = [
    "deliver_webhook",
    "enqueue_job",
    "enqueue_part",
    "extract_document",
    "extract_part",
    "huey",
    "recover_jobs",
]

_settings = get_settings()
log = logging.getLogger("pdfq.consumer")


class _OneLineForKnownErrors(logging.Filter):
    """Huey logs a traceback for every failed task; pdfq's own errors already say what broke."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, PdfqError):
            record.msg = f"{record.msg} {error.code}: {error.message}"
            record.exc_info = record.exc_text = None
        return True


logging.getLogger("huey").addFilter(_OneLineForKnownErrors())


@huey.on_startup()
def _configure_logging():
    logs.configure(_settings)


@huey.task(
    retries=_settings.task_retries,
    retry_delay=_settings.task_retry_delay,
    retry_backoff=_settings.task_retry_backoff,
    context=True,
)
def extract_document(source_key: str, task=None):
    """Extract the PDF at `source_key`; storage outages are retried with delay and backoff."""
    final_attempt = task is None or task.retries == 0
    if _superseded(source_key, task):
        return
    try:
        status = pipeline.process(
            source_key, final_attempt=final_attempt, retry_delay=task.retry_delay if task else 0
        )
        _notify(source_key, status)
    except pipeline.Deferred as deferred:
        # A live worker holds the job: look again once its lease could have run out.
        log.info("%s: %s; looking again in %ss", source_key, deferred, deferred.delay)
        huey.enqueue(extract_document.s(source_key, delay=deferred.delay))


def _superseded(source_key: str, task) -> bool:
    """A task of a scheduled job that a reprocess replaced by another (issue 5).

    Reprocess revokes the old task, but cannot reach a Huey retry; the enqueue marker names
    the task that should run the job, so any other task of a `scheduled` job is stale.
    """
    tenant, job_id = keys.parse_source_key(source_key)
    marked = services.inflight().enqueued_task(job_id)
    if task is None or marked in (None, task.id, HUEY_RETRY):
        return False
    try:
        job = services.jobs().get(job_id, tenant)
    except PdfqError:
        return False  # let the pipeline decide, as without this check
    if job.status is not JobStatus.SCHEDULED:
        return False
    log.info("job %s: task %s replaced by %s; skipping", job_id, task.id, marked)
    return True


def _notify(source_key: str, status):
    """Succeeded or failed: queue the job's webhook, if it has a callback URL (issue 5)."""
    event = webhooks.event_for(status)
    if event is None:
        return
    tenant, job_id = keys.parse_source_key(source_key)
    try:
        if services.jobs().get(job_id, tenant).callback_url:
            huey.enqueue(deliver_webhook.s(tenant, job_id, event))
    except PdfqError as exc:
        log.warning("job %s: webhook not queued: %s", job_id, exc.message)


@huey.task(
    retries=_settings.webhook_retries,
    retry_delay=_settings.webhook_retry_delay,
    retry_backoff=2,
    context=True,
)
def deliver_webhook(tenant: str, job_id: str, event: str, task=None):
    """POST the job's signed event to its callback URL; retried with backoff until it lands."""
    attempt = 1 + (_settings.webhook_retries - task.retries if task else 0)
    webhooks.deliver(tenant, job_id, event, attempt)


def enqueue_job(job: Job, eta: str | None = None):
    """Put the job on the queue (at `eta`, an ISO timestamp, if given) and mark it enqueued."""
    task = extract_document.s(job.source_key)
    if eta:
        task.eta = parse_time(eta).replace(tzinfo=None)  # Huey keeps naive UTC times
    inflight = services.inflight()
    inflight.mark_enqueued(job.id, task.id, eta)
    try:
        huey.enqueue(task)
    except Exception:
        inflight.forget(job.id)
        raise


@huey.task(
    retries=_settings.task_retries,
    retry_delay=_settings.task_retry_delay,
    retry_backoff=_settings.task_retry_backoff,
    context=True,
)
def extract_part(source_key: str, engine: str, first: int, last: int, task=None):
    """Pages first..last of a page-parallel job (consumer/parallel.py); retried alone."""
    parallel.run_part(
        source_key, engine, first, last, final_attempt=task is None or task.retries == 0
    )


def enqueue_part(source_key: str, engine: str, first: int, last: int):
    """Offer one range of a job to any idle worker. No enqueue marker: the job's own worker
    (the coordinator) holds the job's lease and extracts any range nobody took."""
    huey.enqueue(extract_part.s(source_key, engine, first, last))


@huey.signal(SIGNAL_INTERRUPTED)
def _requeue_interrupted(signal, task, *args, **kwargs):
    """SIGTERM past the grace period: the running job goes back to the queue, not lost."""
    if isinstance(task, extract_document.task_class):
        try:
            pipeline.interrupted(task.args[0], enqueue_job)
        except PdfqError as exc:
            log.warning(
                "could not re-enqueue interrupted %s (%s); recovery will", task.args[0], exc.message
            )


@huey.periodic_task(crontab(minute="*"))
def recover_jobs():
    """Every minute: re-enqueue lost jobs and jobs whose worker died (see recovery.py)."""
    recovery.reconcile(enqueue_job)
