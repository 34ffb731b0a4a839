"""What erasing a job removes from storage: its PDF, every result and part, and the dedup
entries that name it. The record stays as a tombstone (core/jobs/lifecycle.py `erase`).

Each step deletes by listing the job's own prefixes, so a file of a format added later, or
a part of a run nobody merged, goes too. Deleting a key that is already gone succeeds, so
erasing again finishes an erasure a failure cut short.
"""

from __future__ import annotations

import contextlib

from core import keys
from core.adapters.storage import Storage
from core.errors import ObjectMissing
from core.jobs.model import Job


def forget_dedup(storage: Storage, job: Job):
    """Remove the dedup entries that point at the job: no later job copies its results."""
    if not job.sha256:
        return
    for key in list(storage.list_keys(keys.dedup_prefix(job.tenant, job.sha256))):
        with contextlib.suppress(ObjectMissing, KeyError, TypeError, ValueError):
            entry, _ = storage.get_json(key)
            if entry["job_id"] == job.id:
                storage.delete(key)


def erase_objects(storage: Storage, job: Job) -> int:
    """Delete the job's source, results and parts; how many objects were listed to go."""
    doomed = [keys.source_key(job.tenant, job.id)]
    for prefix in (keys.results_prefix(job.tenant, job.id), keys.parts_prefix(job.tenant, job.id)):
        doomed += list(storage.list_keys(prefix))
    for key in doomed:
        storage.delete(key)
    return len(doomed)
