"""In-flight bookkeeping in the state store: leases of running jobs and enqueue markers.

Huey drops a task the moment a worker takes it, with no acknowledgement. A lease says
"worker W is running job J until T"; the worker renews it while it works, so a lease that
expired means the worker died. An enqueue marker says "a task for job J is in the queue";
it lives in the same store as the queue, so losing Redis loses both together, and a job
with neither marker nor lease is one the queue has forgotten (see consumer/recovery.py).
"""

from __future__ import annotations

import contextlib
import json

from core.errors import PdfqError

ENQUEUED_TTL = 14 * 24 * 3600  # far longer than any job waits in the queue
HUEY_RETRY = "huey-retry"  # the enqueue marker's task id while Huey holds a retry


class InFlight:
    def __init__(self, state, lease_seconds: int):
        self.state = state
        self.lease_seconds = lease_seconds

    # --- leases ---

    def acquire(self, job_id: str, worker: str) -> bool:
        """Take the job's lease; False if another live worker holds it."""
        return self.state.set_if_absent(f"lease:{job_id}", worker, self.lease_seconds)

    def renew(self, job_id: str, worker: str) -> bool:
        """Extend our lease; False when it now belongs to someone else (we were presumed dead)."""
        holder = self.state.get(f"lease:{job_id}")
        if holder not in (None, worker):
            return False
        # Also re-creates a lease lost with Redis's data, so the sweeper leaves the job alone.
        self.state.set(f"lease:{job_id}", worker, self.lease_seconds)
        return True

    def release(self, job_id: str, worker: str):
        if self.state.get(f"lease:{job_id}") == worker:
            self.state.delete(f"lease:{job_id}")

    def drop_lease(self, job_id: str):
        """Remove the lease whoever holds it (the holder is this process, stopping)."""
        self.state.delete(f"lease:{job_id}")

    def holder(self, job_id: str) -> str | None:
        return self.state.get(f"lease:{job_id}")

    # --- enqueue markers ---

    def mark_enqueued(self, job_id: str, task_id: str, eta: str | None = None):
        value = json.dumps({"task": task_id, "eta": eta})
        self.state.set(f"enqueued:{job_id}", value, ENQUEUED_TTL)

    def dequeued(self, job_id: str):
        """A worker took the job's task off the queue: from now on its lease speaks for it."""
        self.state.delete(f"enqueued:{job_id}")

    def enqueued_task(self, job_id: str) -> str | None:
        """The id of the Huey task that is queued for the job, if one is marked."""
        raw = self.state.get(f"enqueued:{job_id}")
        return json.loads(raw)["task"] if raw else None

    def is_enqueued(self, job_id: str) -> bool:
        return self.state.get(f"enqueued:{job_id}") is not None

    def forget(self, job_id: str):
        """The job reached a final state: nothing of it stays in flight."""
        for key in (f"enqueued:{job_id}", f"lease:{job_id}"):
            with contextlib.suppress(PdfqError):  # both keys expire on their own
                self.state.delete(key)
