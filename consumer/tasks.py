"""Huey tasks: the wiring between the queue and the worker's modules, and nothing else.

`register(services)` attaches pdfq's tasks, hooks and periodic recovery to the process's
Huey and binds the task functions to the queue, so the lifecycle can enqueue them. The web
(create_app), the worker and every command call it once on the Services they built.

`consumer.tasks.huey` is the consumer's target (the Procfile's worker line): huey_consumer
reads it at start-up, which builds the worker's Services from the environment then.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import threading
from typing import NamedTuple

from huey import crontab
from huey.api import TaskWrapper
from huey.signals import SIGNAL_INTERRUPTED

from consumer import added_outputs, delivery, parts, pipeline, recovery, scratch, telemetry
from consumer.recovery import expiry
from core import keys, operations
from core.adapters.queue import (
    ADD_OUTPUTS,
    DELIVER_BATCH_WEBHOOK,
    DELIVER_WEBHOOK,
    DISPATCH_JOB,
    END_BATCH,
    EXTRACT_DOCUMENT,
    EXTRACT_PART,
    MAKE_BATCH_JOBS,
    STOP_BATCH,
)
from core.errors import NotFound, PdfqError
from core.jobs import batch_making, batches
from core.jobs.lifecycle import Deferred
from core.services import Services, build
from core.settings import settings_or_exit

log = logging.getLogger("pdfq.consumer")


class Tasks(NamedTuple):
    extract_document: TaskWrapper
    extract_part: TaskWrapper
    dispatch_job: TaskWrapper
    deliver_webhook: TaskWrapper
    recover_jobs: TaskWrapper


def register(services: Services) -> Tasks:
    """Attach the tasks to services.huey and bind them to services.queue."""
    huey, settings = services.huey, services.settings
    retried = {
        "retries": settings.task_retries,
        "retry_delay": settings.task_retry_delay,
        "retry_backoff": settings.task_retry_backoff,
        "context": True,
    }

    @huey.task(**retried)
    def extract_document(source_key: str, task=None):
        """Extract the PDF at `source_key`; storage outages are retried with delay and backoff."""
        final_attempt = task is None or task.retries == 0
        delay = task.retry_delay if task else 0
        try:
            pipeline.process(
                services,
                source_key,
                final_attempt=final_attempt,
                retry_delay=delay,
                task_id=task.id if task else None,
            )
        except Deferred as deferred:
            # A live worker holds the job: look again once its lease could have run out.
            log.info("%s: %s; looking again in %ss", source_key, deferred, deferred.delay)
            services.queue.put(EXTRACT_DOCUMENT, source_key, delay=deferred.delay)

    @huey.task()
    def dispatch_job():
        """A turn (core/adapters/fairqueue.py): run the next job of the tenant whose turn it
        is, as Huey runs any task (revoked, retried and interrupted as usual)."""
        task = services.queue.next_job()
        if task is not None:
            huey.execute(task)

    @huey.task(**retried)
    def extract_part(source_key: str, engine: str, first: int, last: int, task=None):
        """Pages first..last of a page-parallel job (consumer/parts.py); retried alone."""
        final_attempt = task is None or task.retries == 0
        parts.run_part(services, source_key, engine, first, last, final_attempt=final_attempt)

    @huey.task(
        retries=settings.webhook_retries,
        retry_delay=settings.webhook_retry_delay,
        retry_backoff=2,
        context=True,
    )
    def deliver_webhook(tenant: str, job_id: str, event: str, task=None):
        """POST the job's signed event to its callback URL; retried with backoff until it lands."""
        attempt = 1 + (settings.webhook_retries - task.retries if task else 0)
        last = task is None or task.retries == 0
        try:
            delivery.deliver(services, tenant, job_id, event, attempt, last=last)
        except delivery.SlotsBusy:
            # Waiting for a slot is not an attempt: the same budget, a little later.
            budget = {"retries": task.retries, "retry_delay": task.retry_delay} if task else {}
            later = deliver_webhook.s(
                tenant, job_id, event, delay=delivery.SLOT_RETRY_SECONDS, **budget
            )
            services.queue.enqueue(later)

    @huey.task(**retried)
    def add_outputs(tenant: str, job_id: str, outputs: list[str], task=None):
        """Outputs asked for after a job finished, made from its PDF (consumer/added_outputs.py)."""
        final_attempt = task is None or task.retries == 0
        added_outputs.run(services, tenant, job_id, outputs, final_attempt=final_attempt)

    @huey.task(**retried)
    def make_batch_jobs(tenant: str, batch_id: str, task=None):
        """Make a batch's jobs (core/jobs/batch_making.py); a retry makes only those missing."""
        batch_making.make_jobs(services, tenant, batch_id)

    @huey.task(**retried)
    def stop_batch(tenant: str, batch_id: str, erase: bool, task=None):
        """Cancel (or erase) every job of a batch."""
        with contextlib.suppress(NotFound):
            batches.stop(services, tenant, batch_id, erase)

    @huey.task(**retried)
    def end_batch(tenant: str, batch_id: str, task=None):
        """Every job of a batch ended: its manifest, record and webhook."""
        with contextlib.suppress(NotFound):  # erased meanwhile
            batches.end(services, tenant, batch_id)

    @huey.task(
        retries=settings.webhook_retries,
        retry_delay=settings.webhook_retry_delay,
        retry_backoff=2,
        context=True,
    )
    def deliver_batch_webhook(tenant: str, batch_id: str, task=None):
        """POST a batch's signed batch.finished event; retried with backoff until it lands."""
        attempt = 1 + (settings.webhook_retries - task.retries if task else 0)
        try:
            delivery.deliver_batch(services, tenant, batch_id, attempt)
        except delivery.SlotsBusy:
            budget = {"retries": task.retries, "retry_delay": task.retry_delay} if task else {}
            later = deliver_batch_webhook.s(
                tenant, batch_id, delay=delivery.SLOT_RETRY_SECONDS, **budget
            )
            services.queue.enqueue(later)

    @huey.periodic_task(crontab(minute="*"))
    def recover_jobs():
        """Every minute: re-enqueue lost jobs and jobs whose worker died."""
        report = recovery.reconcile(services)
        try:
            if added := services.queue.top_up():
                log.warning("%d waiting jobs had no turn on the queue; added", added)
        except PdfqError as exc:
            log.warning("could not count the queue's turns (%s)", exc.message)
        if report.missing_leases:  # dead workers' jobs are taken back a lease period later
            recover_soon(settings.lease_seconds + 1)

    def recover_soon(delay: int):
        """One recovery pass in `delay` seconds, unless one is already due that soon."""
        try:
            if services.state.set_if_absent(keys.RECOVERY_SOON, "1", delay - 1):
                services.queue.enqueue(recover_jobs.s(delay=delay))
        except PdfqError as exc:
            log.warning(
                "no recovery pass in %ss (%s); the minute's pass will do", delay, exc.message
            )

    @huey.on_startup()
    def recover_after_start():
        """A consumer starting (a restart after a crash, a deploy) looks for the jobs of the
        workers it replaces as soon as their leases can have run out, not at the next minute."""
        recover_soon(max(settings.lease_seconds, settings.reconcile_grace) + 1)

    @huey.on_startup()
    def warm_sandbox():
        """Each worker starts its sandbox child now, beside its first task rather than in
        front of it (the engines' import takes a fraction of a second)."""
        threading.Thread(target=_warm, name="pdfq-sandbox-warm", daemon=True).start()

    def _warm():
        try:
            parts.warm_sandbox(services)
        except (PdfqError, OSError) as exc:  # the first job starts one, and says why not
            log.warning("no sandbox child started ahead of the first job: %s", exc)

    @huey.on_startup()
    def clean_scratch():
        """Each worker starting removes the temp folders of workers that were killed."""
        scratch.clean_leftovers()

    @huey.periodic_task(crontab(minute="*"))
    def sample_operations():
        """Every minute: the operations view's sample (jobs finished, queue depth), so its
        history has no gaps while nobody watches."""
        try:
            operations.sample(services.state, services.queue)
        except PdfqError as exc:
            log.warning("no operations sample this minute: %s", exc.message)

    @huey.periodic_task(crontab(minute="37"))
    def save_counts():
        """Every hour: a copy of the job counters in storage, for after a loss of Redis."""
        recovery.save_counts(services)

    @huey.periodic_task(crontab(minute="17"))
    def apply_retention():
        """Every hour, where the bucket has no lifecycle rules: expire sources and results."""
        expiry.apply_retention(services)

    @huey.signal(SIGNAL_INTERRUPTED)
    def requeue_interrupted(signal, task, *args, **kwargs):
        """SIGTERM past the grace period: the running job goes back to the queue, not lost."""
        if isinstance(task, extract_document.task_class):
            try:
                pipeline.interrupted_by_shutdown(services, task.args[0])
            except PdfqError as exc:
                source_key = task.args[0]
                log.warning("could not re-enqueue %s (%s); recovery will", source_key, exc.message)

    telemetry.register(services)
    services.queue.bind(
        **{
            EXTRACT_DOCUMENT: extract_document,
            EXTRACT_PART: extract_part,
            DISPATCH_JOB: dispatch_job,
            DELIVER_WEBHOOK: deliver_webhook,
            MAKE_BATCH_JOBS: make_batch_jobs,
            STOP_BATCH: stop_batch,
            END_BATCH: end_batch,
            DELIVER_BATCH_WEBHOOK: deliver_batch_webhook,
            ADD_OUTPUTS: add_outputs,
        }
    )
    return Tasks(extract_document, extract_part, dispatch_job, deliver_webhook, recover_jobs)


@functools.cache
def worker_services() -> Services:
    """The worker's Services, built from the environment with the tasks registered."""
    services = build(settings_or_exit())
    register(services)
    return services


def __getattr__(name: str):
    # huey_consumer's target, `consumer.tasks.huey`: built when the consumer asks for it.
    if name == "huey":
        return worker_services().huey
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
