"""Batches whose making task died: queued again, so no batch stays `making` forever.

A batch is in BATCHES_MAKING from its creation until every job of it is made, and the task
making its jobs holds a lease meanwhile (core/jobs/batch_making.py; the lease is held for the
task while it waits on the queue too). A batch of that set with no lease lost its task with
its worker (SIGKILL, OOM, a dyno killed: Huey has no ack), or Huey gave the task up after its
retries: the task is queued again, and starts where the last one stopped. An erased batch, or
one whose jobs are all made, leaves the set.
"""

from __future__ import annotations

import logging

from core import keys
from core.errors import NotFound, PdfqError
from core.jobs import batches
from core.services import Services

log = logging.getLogger("pdfq.recovery")


def resume(services: Services) -> int:
    """Queue the making task again for each batch that lost its own; how many."""
    state, resumed = services.state, 0
    for member in state.members(keys.BATCHES_MAKING):
        tenant, _, batch_id = member.rpartition("/")
        try:
            if services.inflight.holder(batches.maker_lease(batch_id)):
                continue  # a live task makes its jobs, or is on its way
            batch = batches.get(services, tenant, batch_id)
            if batch.made_at:
                state.discard(keys.BATCHES_MAKING, member)
                continue
            batches.queue_making(services, tenant, batch_id)
        except NotFound:
            state.discard(keys.BATCHES_MAKING, member)
            continue
        except PdfqError as exc:
            log.warning("batch %s: not resumed this time: %s", batch_id, exc.message)
            continue
        resumed += 1
        log.warning("batch %s: its making task was lost; queued again", batch_id)
    return resumed
