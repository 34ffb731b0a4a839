"""A batch's jobs counted by status in the state store, and the moment the batch ends.

Every move of a batch's job changes its batch's counters in the same round trip as the
tenant's (core/jobs/live.py). The batch's total is written only once every job is made, so a
batch whose first jobs end before the last is made never ends early. When a job of a batch
ends, one read tells whether every job has: then the task that ends the batch (manifest,
record, webhook: core/jobs/batches.py) is queued, once.
"""

from __future__ import annotations

from core import keys
from core.adapters.queue import END_BATCH, JobQueue
from core.adapters.state import State
from core.jobs.model import TERMINAL, JobStatus


def _total_key(batch_id: str) -> str:
    return keys.batch_count_key(batch_id, "total")


def counts(state: State, batch_id: str) -> tuple[dict[str, int], int, int | None]:
    """(jobs by status, pages extracted, total once every job is made) in one round trip."""
    names = {keys.batch_count_key(batch_id, s.value): s.value for s in JobStatus}
    pages, total = keys.batch_pages_key(batch_id), _total_key(batch_id)
    found = state.get_many([*names, pages, total])
    by_status = {status: max(0, int(found[key] or 0)) for key, status in names.items()}
    made = found[total]
    return by_status, int(found[pages] or 0), None if made is None else int(made)


def made_all(state: State, batch_id: str, total: int):
    state.set(_total_key(batch_id), str(total), keys.BATCH_DONE_TTL * 8)


def ended(by_status: dict[str, int]) -> int:
    return sum(by_status[s.value] for s in TERMINAL)


def check_end(state: State, queue: JobQueue, tenant: str, batch_id: str) -> bool:
    """Queue the batch's end (once) if every one of its jobs has ended; whether it did."""
    by_status, _, total = counts(state, batch_id)
    if total is None or ended(by_status) < total:
        return False
    if state.set_if_absent(keys.batch_ending_key(batch_id), "1", keys.BATCH_DONE_TTL):
        queue.put_first(END_BATCH, tenant, batch_id)
        return True
    return False


def forget(state: State, batch_id: str, ttl: int | None = keys.BATCH_DONE_TTL):
    """The counters kept `ttl` seconds more (an ended batch's), or removed (None)."""
    names = [keys.batch_count_key(batch_id, s.value) for s in JobStatus]
    names += [keys.batch_pages_key(batch_id), _total_key(batch_id)]
    if ttl is None:
        state.delete(*names, keys.batch_ending_key(batch_id))
        return
    for name in names:
        state.expire(name, ttl)
