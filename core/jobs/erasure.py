"""What erasing a job removes: its PDF, every result and part, and the dedup pointer that
names it. The record stays as a tombstone (core/jobs/lifecycle.py `erase`).

Each step deletes by listing the job's own prefixes, so a file of a format added later, or
a part of a run nobody merged, goes too. Deleting a key that is already gone succeeds, so
erasing again finishes an erasure a failure cut short.
"""

from __future__ import annotations

from core import keys
from core.adapters.state import State
from core.adapters.storage import Storage
from core.jobs import dedup
from core.jobs.model import Job


def forget_dedup(state: State, job: Job):
    """Remove the dedup pointer at the job's result: no later job copies it."""
    dedup.forget(state, job)


def erase_objects(storage: Storage, job: Job) -> int:
    """Delete the job's source, results and parts; how many objects were listed to go."""
    doomed = [keys.source_key(job.tenant, job.id)]
    for prefix in (keys.results_prefix(job.tenant, job.id), keys.parts_prefix(job.tenant, job.id)):
        doomed += list(storage.list_keys(prefix))
    for key in doomed:
        storage.delete(key)
    return len(doomed)
