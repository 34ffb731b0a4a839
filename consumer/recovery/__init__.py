"""Recovery: re-enqueue what the queue forgot and what dead workers dropped, deliver webhooks
still owed, and find every open job again after the state store lost its data.

One pass goes over each tenant's open jobs as the state store lists them (core/jobs/live.py),
reading their live copies in one request (storage only for a job whose copy is gone):
- queued or scheduled, with no enqueue marker and no lease: the queue lost it (Redis
  flushed, restarted without persistence, failed over): enqueue it again, at its time;
- marked enqueued, but the marked task is in neither the queue nor the schedule (its
  retries ran out while storage was down, so Huey dropped it): the marker is stale; it is
  removed and the job handled as above. A marker younger than RECONCILE_GRACE_SECONDS is
  trusted (its task may be between the queue and a worker's lease);
- processing, with no lease for a whole lease period (a live worker cut off by a Redis
  outage renews its lease soon after Redis is back): its worker died (SIGKILL, OOM, a dyno
  killed): put it back, or, once it has been in progress at N worker deaths, fail it with
  `worker_crashed`. The first pass to miss the lease notes when; the task asks for a pass
  a lease period later;
- awaiting_upload past its upload URLs' expiry (PRESIGN_EXPIRY) and the grace: the file
  arrived but nobody completed it (lost event, client gone): complete it; nothing arrived:
  fail it `upload_expired`, so abandoned uploads do not count against the tenant's limit;
- ended: a set member left behind (its record says so: a worker whose last writes to the
  state store failed): the live copy is put right and the set pruned.
Before it acts on a job the pass reads its record again: storage may be ahead of the copy.
Jobs changed in the last RECONCILE_GRACE_SECONDS are left alone (they may be mid-enqueue).

A webhook owed (written with the job's end) whose delivery task is not on the queue is
queued again, once. A batch whose task making its jobs was lost has the task queued again
(consumer/recovery/batch_makers.py).

**After a loss of the state store.** Every pass writes `epoch` to the state store; a pass that
finds none knows the store lost its data, and with it the open sets, live copies, leases and
the queue itself. It then finds in storage every job that may be open or owe a webhook: the
records made since the oldest such job of the last passes (store/open-since.json, which the
passes keep up to date: job ids count time, so that is one listing of each tenant's newest
records, read until that time), and the re-run jobs, each of which has a marker while open.
Those jobs join the open sets again and the pass goes on as above; the counters of finished
jobs come back from their hourly copy in storage.

Each move is the lifecycle's. Run every minute by a Huey periodic task, once by a consumer that
starts (as soon as the leases of the workers it replaces can have run out), and on demand with
`python -m consumer.recovery`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import time

from consumer.recovery import batch_makers
from core import keys
from core.clock import seconds_since, utcnow
from core.errors import NotFound, NotUploaded, ObjectMissing, PdfqError
from core.jobs.inflight import HUEY_RETRY
from core.jobs.model import Job, JobStatus
from core.services import Services

log = logging.getLogger("pdfq.recovery")
OPEN = [status for status in JobStatus if not status.terminal]
FINISHED = [status for status in JobStatus if status.terminal]
# How far before the oldest open job a search after a loss starts: the clocks of the web
# processes that made the ids, and a job made while the pass that wrote the mark ran.
MARK_MARGIN_MS = 10 * 60 * 1000
# The mark is written again once the oldest open job is this much newer (not at every pass).
MARK_STEP_MS = 5 * 60 * 1000
OPEN_SINCE_SEEN = "open-since"  # the mark as last written (state key, EPOCH_TTL)


@dataclasses.dataclass
class Report:
    checked: int = 0
    requeued: int = 0
    rescheduled: int = 0
    recovered_from_crash: int = 0
    quarantined: int = 0
    uploads_completed: int = 0
    uploads_expired: int = 0
    closed: int = 0
    webhooks_queued: int = 0
    stale_markers: int = 0
    missing_leases: int = 0  # processing jobs whose lease is gone, not yet for a lease period
    found_again: int = 0  # open jobs found in storage after the state store lost its data
    batches_resumed: int = 0  # batches whose task making their jobs was lost, queued again
    skipped: bool = False

    @property
    def acted(self) -> bool:
        """It changed a job (closing stale entries aside): worth a warning in the log."""
        quiet = ("checked", "closed", "missing_leases", "skipped")
        return any(getattr(self, f.name) for f in dataclasses.fields(self) if f.name not in quiet)

    def __str__(self) -> str:
        if self.skipped:
            return "another recovery pass is running; skipped"
        return ", ".join(
            f"{f.name.replace('_', ' ')}: {getattr(self, f.name)}"
            for f in dataclasses.fields(self)
            if f.name != "skipped"
        )


def reconcile(services: Services, wait: float = 0) -> Report:
    """One recovery pass, unless another process is running one: then, with `wait`, this
    one runs once that one is done (up to `wait` seconds later), else it is skipped."""
    state = services.state
    report = Report()
    if not _locked(state, wait):
        report.skipped = True
        return report
    try:
        if state.get(keys.EPOCH) is None:
            _find_again(services, report)
        state.set(keys.EPOCH, utcnow(), keys.EPOCH_TTL)
        oldest = _open_jobs(services, report)
        oldest = _owed_webhooks(services, report, oldest)
        report.batches_resumed = batch_makers.resume(services)
        _keep_mark(services, oldest)
        state.purge_expired()
    finally:
        state.delete(keys.RECOVERY_LOCK)
    if report.acted:
        log.warning("recovery: %s", report)
    return report


def _locked(state, wait: float) -> bool:
    """Take the one-pass-at-a-time lock, waiting up to `wait` seconds for its holder."""
    deadline = time.monotonic() + wait
    while not state.set_if_absent(keys.RECOVERY_LOCK, "1", keys.RECOVERY_LOCK_TTL):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.2)
    return True


def _open_jobs(services: Services, report: Report) -> int | None:
    """Look at every open job; the creation time (ms) of the oldest that is not a re-run."""
    live = services.records.live
    queued = _QueuedTasks(services)
    found: dict[tuple[str | None, JobStatus], int] = {}
    oldest = None
    tenants = live.open_tenants()
    for tenant in tenants:
        ids = live.open_jobs(tenant)
        if not ids:
            live.forget_tenant(tenant)
            continue
        for job in services.records.many(tenant, ids):
            report.checked += 1
            if job.status.terminal:
                live.closed(tenant, job.id)  # ended, its last writes lost: not open
                report.closed += 1
                continue
            for scope in (None, tenant):
                found[scope, job.status] = found.get((scope, job.status), 0) + 1
            if not job.reopened:
                made = keys.job_id_ms(job.id)
                oldest = made if oldest is None else min(oldest, made)
            try:
                _check(services, job, queued, report)
            except PdfqError as exc:
                log.warning("job %s: not recovered this time: %s", job.id, exc.message)
    live.recount(found, OPEN, tenants)
    return oldest


def _check(services: Services, job: Job, queued: _QueuedTasks, report: Report):
    inflight, settings = services.inflight, services.settings
    gone = None
    if job.status is JobStatus.PROCESSING:
        gone = inflight.lease_gone_for(job.id)
        if gone is None:
            return  # a live worker has it
    elif inflight.holder(job.id):
        return  # a live worker has it
    marker = inflight.marker(job.id)
    if marker is not None:
        if queued.holds(marker):
            return  # the queue has it
        if inflight.marker(job.id) != marker or inflight.holder(job.id):
            return  # it moved on while we looked
        inflight.dequeued(job.id)
        report.stale_markers += 1
        log.warning(
            "job %s: its task %s is not in the queue; marker removed", job.id, marker["task"]
        )
    if seconds_since(job.updated_at) < settings.reconcile_grace:
        return
    if gone is not None and gone < settings.lease_seconds:
        report.missing_leases += 1  # dead, or cut off by an outage: look again
        return
    job = services.records.current(job)  # storage may be ahead of the live copy
    if job.status.terminal:
        services.records.live.closed(job.tenant, job.id)
        services.lifecycle.queue_webhook(job)
        report.closed += 1
        return
    _recover(services, job, report)


class _QueuedTasks:
    """Whether a marked task is really queued or scheduled; the queue is read once a pass,
    and only if some job is marked."""

    def __init__(self, services: Services):
        self._services = services
        self._ids: set[str] | None = None

    def holds(self, marker: dict) -> bool:
        grace = self._services.settings.reconcile_grace
        at = marker.get("at")  # (a marker without one is checked)
        if marker["task"] == HUEY_RETRY or (at and seconds_since(at) < grace):
            return True  # a retry's marker expires on its own; a young one may be in transit
        if self._ids is None:
            self._ids = self._services.queue.task_ids()
        return marker["task"] in self._ids


def _recover(services: Services, job: Job, report: Report):
    lifecycle, settings = services.lifecycle, services.settings
    if job.status is JobStatus.AWAITING_UPLOAD:
        _expire_upload(services, job, report)
    elif job.status is JobStatus.QUEUED:
        lifecycle.requeue(job)
        report.requeued += 1
        log.warning("job %s: was not in the queue; re-enqueued", job.id)
    elif job.status is JobStatus.SCHEDULED:
        lifecycle.requeue(job)
        report.rescheduled += 1
        log.warning(
            "job %s: was not in the schedule; scheduled again for %s", job.id, job.scheduled_for
        )
    elif job.status is JobStatus.PROCESSING:
        job = lifecycle.recover_crashed(job, settings.max_worker_crashes)
        services.inflight.forget_missing_lease(job.id)
        if job.status is JobStatus.FAILED:
            report.quarantined += 1
            log.warning("job %s: quarantined after repeated worker deaths", job.id)
        else:
            report.recovered_from_crash += 1
            log.warning(
                "job %s: its run ended without a lease (%s); re-enqueued",
                job.id,
                job.attempts[-1]["outcome"],
            )


def _expire_upload(services: Services, job: Job, report: Report):
    """An upload whose URLs expired: complete it if the file is there, else end the job."""
    settings = services.settings
    if seconds_since(job.created_at) < settings.presign_expiry + settings.reconcile_grace:
        return
    try:
        _, queued = services.lifecycle.complete_upload(job, by="recovery")
    except NotUploaded:
        services.lifecycle.expire_upload(job)
        report.uploads_expired += 1
        log.warning("job %s: nothing was uploaded before its URLs expired; failed", job.id)
        return
    if queued:
        report.uploads_completed += 1
        log.warning("job %s: its upload arrived but was never completed; queued", job.id)


def _owed_webhooks(services: Services, report: Report, oldest: int | None) -> int | None:
    """Queue each webhook owed whose delivery is not on the queue; the oldest time of those
    still owed joins the mark."""
    inflight = services.inflight
    for tenant, job_id in inflight.owed_webhooks():
        try:
            if not inflight.webhook_pending(job_id):
                job = services.records.stored(job_id, tenant)
                if not job.webhook_owed:
                    inflight.webhook_settled(job)
                    continue
                services.lifecycle.queue_webhook(job)
                report.webhooks_queued += 1
            made = keys.job_id_ms(job_id)
            oldest = made if oldest is None else min(oldest, made)
        except NotFound:
            inflight.state.discard(keys.OWED_WEBHOOKS, f"{tenant}/{job_id}")
        except PdfqError as exc:
            log.warning("job %s: webhook not queued this time: %s", job_id, exc.message)
    return oldest


def _keep_mark(services: Services, oldest: int | None):
    """Write the time a search after a loss must start from, when it moved on enough."""
    state = services.state
    mark = (oldest if oldest is not None else keys.now_ms()) - MARK_MARGIN_MS
    seen = state.get(OPEN_SINCE_SEEN)
    if seen is not None and 0 <= mark - int(seen) < MARK_STEP_MS:
        return
    services.storage.put_json(keys.OPEN_SINCE_KEY, {"ms": mark, "at": utcnow()})
    state.set(OPEN_SINCE_SEEN, str(mark), keys.EPOCH_TTL)


def _find_again(services: Services, report: Report):
    """The state store lost its data: every job that may be open or owe a webhook, from
    storage, back into the open sets (the rest of the pass then requeues them)."""
    records, lifecycle = services.records, services.lifecycle
    try:
        mark, _ = services.storage.get_json(keys.OPEN_SINCE_KEY)
        since = int(mark["ms"])
    except (ObjectMissing, KeyError, TypeError, ValueError):
        since = 0  # never written: every record

    seen: set[str] = set()

    def found(job: Job):
        if job.id in seen:
            return
        seen.add(job.id)
        if not job.status.terminal:
            with contextlib.suppress(PdfqError):
                records.live.fill(job)
            records.live.opened(job.tenant, job.id)
            report.found_again += 1
        elif job.webhook_owed:
            lifecycle.queue_webhook(job)
            report.webhooks_queued += 1

    for tenant in records.tenants():
        after = None
        while True:
            ids, more = records.page(tenant, after=after, limit=1000)
            recent = [i for i in ids if keys.job_id_ms(i) >= since]
            for job in records.many(tenant, recent):
                found(job)
            if not more or len(recent) < len(ids):
                break
            after = ids[-1]
    for tenant, job_id in records.reopened():
        try:
            job = records.stored(job_id, tenant)
        except NotFound:
            continue
        found(job)
        if job.status.terminal:
            records.close(job)
    _restore_counts(services)
    level = logging.WARNING if report.found_again or report.webhooks_queued else logging.INFO
    log.log(
        level,
        "recovery: a state store without data (new, or flushed); %d open jobs found in storage",
        report.found_again,
    )


def save_counts(services: Services):
    """Copy the counters of finished jobs to storage (every hour), for `_restore_counts`."""
    live = services.records.live
    tenants = services.records.tenants()
    counts = {tenant or "": live.counts(tenant) for tenant in [None, *tenants]}
    services.storage.put_json(keys.COUNTS_KEY, {"at": utcnow(), "counts": counts})


def _restore_counts(services: Services):
    """The counters of finished jobs as the last hourly copy had them."""
    try:
        saved, _ = services.storage.get_json(keys.COUNTS_KEY)
    except ObjectMissing:
        return
    found: dict[tuple[str | None, JobStatus], int] = {}
    tenants = []
    for tenant, counts in (saved.get("counts") or {}).items():
        scope = tenant or None
        if scope:
            tenants.append(scope)
        for status in FINISHED:
            found[scope, status] = int(counts.get(status.value, 0))
    services.records.live.recount(found, FINISHED, tenants)
