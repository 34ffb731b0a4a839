"""What the state store knows about jobs in flight: leases, enqueue markers, cancel requests
and live progress (keys and TTLs in core/keys.py).

Huey drops a task the moment a worker takes it, with no acknowledgement. A lease says
"worker W is running job J until T"; the worker renews it while it works, so a lease that
expired means the worker died. An enqueue marker says "a task for job J is in the queue";
it lives in the same store as the queue, so losing Redis loses both together, and a job
with neither marker nor lease is one the queue has forgotten (consumer/recovery.py). A
cancel request is how the web reaches a running job: its worker looks at every tick.
"""

from __future__ import annotations

import contextlib
import json
import logging

from core import keys
from core.adapters.state import State
from core.clock import seconds_since, utcnow
from core.errors import PdfqError
from core.jobs.model import Job, JobStatus

log = logging.getLogger("pdfq.consumer")

HUEY_RETRY = "huey-retry"  # the enqueue marker's task id while Huey holds a retry


class InFlight:
    def __init__(self, state: State, lease_seconds: int, progress_ttl: int):
        self.state = state
        self.lease_seconds = lease_seconds
        self.progress_ttl = progress_ttl

    # --- leases: of a job, or of a part of one (any holder name) ---

    def acquire(self, name: str, worker: str) -> bool:
        """Take the lease; False if another live worker holds it."""
        return self.state.set_if_absent(keys.lease_key(name), worker, self.lease_seconds)

    def renew(self, name: str, worker: str) -> bool:
        """Extend our lease; False when it now belongs to someone else (we were presumed dead)."""
        holder = self.state.get(keys.lease_key(name))
        if holder not in (None, worker):
            return False
        # Also re-creates a lease lost with Redis's data, so the sweeper leaves the job alone.
        self.state.set(keys.lease_key(name), worker, self.lease_seconds)
        return True

    def release(self, name: str, worker: str):
        """Give the lease back, if it is still ours (with the state store down: it expires)."""
        with contextlib.suppress(PdfqError):
            if self.state.get(keys.lease_key(name)) == worker:
                self.state.delete(keys.lease_key(name))

    def drop_lease(self, name: str):
        """Remove the lease whoever holds it (the holder is this process, stopping)."""
        self.state.delete(keys.lease_key(name))

    def holder(self, name: str) -> str | None:
        return self.state.get(keys.lease_key(name))

    def lease_gone_for(self, job_id: str) -> float | None:
        """None while the job's lease is held; else how long recovery has seen it missing
        (0 the first time). A live worker cut off by a state-store outage longer than its
        lease renews it within a third of a lease once the store is back, so only a lease
        missing for a whole lease period means the worker died."""
        lease, missing = keys.lease_key(job_id), keys.missing_lease_key(job_id)
        found = self.state.get_many([lease, missing])
        if found[lease] is not None:
            if found[missing] is not None:
                self.state.delete(missing)  # it came back: a later loss starts from zero
            return None
        if found[missing] is not None:
            return seconds_since(found[missing])
        ttl = max(keys.MISSING_LEASE_TTL, 3 * self.lease_seconds)
        if self.state.set_if_absent(missing, utcnow(), ttl):
            return 0.0
        return seconds_since(self.state.get(missing) or utcnow())

    def forget_missing_lease(self, job_id: str):
        self.state.delete(keys.missing_lease_key(job_id))

    # --- enqueue markers ---

    def mark_enqueued(
        self, job_id: str, task_id: str, eta: str | None = None, ttl: int = keys.ENQUEUED_TTL
    ):
        """Say task `task_id` is queued for the job (until `eta`, when scheduled). Recovery
        checks a marked task is really in the queue or the schedule; a Huey retry, whose
        task pdfq cannot see, is marked only until a little after it is due (`ttl`)."""
        value = json.dumps({"task": task_id, "eta": eta, "at": utcnow()})
        self.state.set(keys.enqueued_key(job_id), value, ttl)

    def marker(self, job_id: str) -> dict | None:
        """The job's enqueue marker: {"task", "eta", "at"}, or None."""
        raw = self.state.get(keys.enqueued_key(job_id))
        return json.loads(raw) if raw else None

    def dequeued(self, job_id: str):
        """A worker took the job's task off the queue: from now on its lease speaks for it."""
        self.state.delete(keys.enqueued_key(job_id))

    def enqueued_task(self, job_id: str) -> str | None:
        """The id of the Huey task that is queued for the job, if one is marked."""
        raw = self.state.get(keys.enqueued_key(job_id))
        return json.loads(raw)["task"] if raw else None

    def is_enqueued(self, job_id: str) -> bool:
        return self.state.get(keys.enqueued_key(job_id)) is not None

    # --- cancel requests for running jobs ---

    def request_cancel(self, job_id: str):
        self.state.set(keys.cancel_key(job_id), "1", keys.CANCEL_TTL)

    def cancel_requested(self, job_id: str) -> bool:
        """Whether the web asked the job to stop; False while the state store cannot say
        (the request is kept: the next tick after the outage sees it)."""
        try:
            return self.state.get(keys.cancel_key(job_id)) is not None
        except PdfqError as exc:
            log.warning("job %s: could not look for a cancel request", job_id, exc_info=exc)
            return False

    def clear_cancel(self, job_id: str):
        with contextlib.suppress(PdfqError):  # it expires anyway
            self.state.delete(keys.cancel_key(job_id))

    # --- progress ---

    def set_progress(self, job_id: str, done: int, total: int | None):
        """Live progress, best effort: an extraction that can still write its results goes
        on while the state store is down (the record gets the final counts)."""
        try:
            self.state.set(keys.progress_key(job_id), json.dumps([done, total]), self.progress_ttl)
        except PdfqError as exc:
            log.warning("job %s: progress not recorded", job_id, exc_info=exc)

    # --- outages that ended a run: not the PDF's fault ---

    def note_outage(self, job_id: str, code: str):
        """A run ended by an outage whose retry could not be recorded on the job: recovery
        books the attempt as `code`, not as a worker death (no step toward quarantine)."""
        with contextlib.suppress(PdfqError):  # the state store is down too: nothing to keep
            self.state.set(keys.outage_key(job_id), code, keys.ENQUEUED_TTL)

    def outage(self, job_id: str) -> str | None:
        return self.state.get(keys.outage_key(job_id))

    def clear_outage(self, job_id: str):
        with contextlib.suppress(PdfqError):  # it expires anyway
            self.state.delete(keys.outage_key(job_id))

    # --- webhooks owed: one delivery task per end of a job ---

    def webhook_queued(self, job: Job) -> bool:
        """Claim the queueing of the delivery `job` owes for this revision of its record; False
        when it is claimed already (its task is on the queue, or delivered)."""
        key, rev = keys.webhook_queued_key(job.id), str(job.rev)
        if not self.state.set_if_absent(key, rev, keys.ENQUEUED_TTL):
            if self.state.get(key) == rev:
                return False
            self.state.set(key, rev, keys.ENQUEUED_TTL)  # owed again, by a later end
        self.state.add(keys.OWED_WEBHOOKS, f"{job.tenant}/{job.id}")
        return True

    def webhook_not_queued(self, job: Job):
        """The task could not be queued after all: recovery queues it."""
        self.state.delete(keys.webhook_queued_key(job.id))

    def webhook_settled(self, job: Job):
        """Delivered, or given up: nothing of it is owed any more."""
        self.state.discard(keys.OWED_WEBHOOKS, f"{job.tenant}/{job.id}")

    def webhook_pending(self, job_id: str) -> bool:
        return self.state.get(keys.webhook_queued_key(job_id)) is not None

    def owed_webhooks(self) -> list[tuple[str, str]]:
        """(tenant, job_id) of the jobs whose webhook is owed, as the state store knows them."""
        return [tuple(member.split("/", 1)) for member in self.state.members(keys.OWED_WEBHOOKS)]

    def progress(self, job: Job) -> tuple[int | None, int | None]:
        """(pages_done, pages_total): live while processing, from the record otherwise."""
        if job.status is JobStatus.PROCESSING:
            raw = self.state.get(keys.progress_key(job.id))
            if raw:
                done, total = json.loads(raw)
                return done, total
        return job.pages_done, job.pages_total

    def forget(self, job_id: str):
        """The job ended: no marker, lease or cancel request of it stays."""
        with contextlib.suppress(PdfqError):  # each expires on its own
            self.state.delete(
                keys.enqueued_key(job_id),
                keys.lease_key(job_id),
                keys.cancel_key(job_id),
                keys.outage_key(job_id),
            )

    def started(self, job_id: str):
        """A worker took the job's task and holds its lease: its enqueue marker, and the note
        of an outage its retry awaited, are done with."""
        self.state.delete(keys.enqueued_key(job_id), keys.outage_key(job_id))
