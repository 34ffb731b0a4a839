"""Making a batch's jobs (MAKE_BATCH_JOBS), in a worker: the batch's granted prefixes are
listed first (core/jobs/batch_listing.py), then one job is made per source, eight at a time
(a job from a URL or a granted key, queued for its tenant's turn like any other).

A job's id derives from the batch's and its source's number (keys.batch_job_id), so making a
source's job twice is a WriteConflict, never a second job. A making task can die with its
worker (SIGKILL, OOM; Huey has no ack), so it holds a lease (`batch:<id>`, LEASE_SECONDS,
renewed every listing page and every CHECK_EVERY jobs), keeps a cursor in the state store
(the sources whose jobs are all made), and the batch stays in BATCHES_MAKING until every
job is made. Recovery (consumer/recovery/batch_makers.py) queues the task again for a batch of
that set whose lease is gone; the task starts at the cursor and makes only what is missing.
A job whose record was written by the task that died, but not its state (live copy, open
set, counters), is given its state then, as its creation would have.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import uuid
from concurrent.futures import ThreadPoolExecutor

from core import keys
from core.clock import utcnow
from core.errors import NotFound, WriteConflict
from core.jobs import batch_counts, batch_listing, batches
from core.jobs.batches import MAKERS, MAX_SOURCES, Batch
from core.jobs.model import JobStatus
from core.services import Services

log = logging.getLogger("pdfq.batches")
CHECK_EVERY = 500  # jobs made between two looks at whether the batch was canceled


def make_jobs(services: Services, tenant: str, batch_id: str):
    """Make the batch's jobs that are not made yet, then its total; nothing when another
    live task is making them."""
    name = batches.maker_lease(batch_id)
    holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    services.state.delete_if_equal(keys.lease_key(name), batches.MAKER_QUEUED)
    if not services.inflight.acquire(name, holder):
        log.info("batch %s: another task is making its jobs", batch_id)
        return
    try:
        _make_all(services, tenant, batch_id, lambda: services.inflight.renew(name, holder))
    finally:
        services.inflight.release(name, holder)


def _make_all(services: Services, tenant: str, batch_id: str, renew):
    state, storage = services.state, services.storage
    member = f"{tenant}/{batch_id}"
    try:
        batch = batches.get(services, tenant, batch_id)
    except NotFound:  # erased meanwhile
        state.discard(keys.BATCHES_MAKING, member)
        return
    if batch.made_at:  # a second task, after the first made them all
        state.discard(keys.BATCHES_MAKING, member)
        return
    sources_key = keys.batch_sources_key(tenant, batch_id)
    sources = json.loads(storage.get_bytes(sources_key))
    if batch.status != "canceled" and batch_listing.pending(sources):
        sources, listing = batch_listing.expand(
            services.settings, tenant, sources, MAX_SOURCES, renew
        )
        # The record first: a task dying before the sources are written lists them again.
        batch = batches.get(services, tenant, batch_id)
        batch.total, batch.listing = len(sources), listing
        batches.save(services, batch)
        storage.put_bytes(sources_key, json.dumps(sources).encode(), "application/json")
        log.info("batch %s: %d keys listed", batch_id, listing["listed"])
    cursor = keys.batch_cursor_key(batch_id)
    made = int(state.get(cursor) or 0)
    with ThreadPoolExecutor(MAKERS, thread_name_prefix="pdfq-batch") as pool:
        for start in range(made, len(sources), CHECK_EVERY):
            renew()
            if batches.get(services, tenant, batch_id).status == "canceled":
                break
            chunk = range(start, min(start + CHECK_EVERY, len(sources)))
            list(pool.map(lambda i: _make(services, batch, i, sources[i]), chunk))
            made = chunk.stop
            state.set(cursor, str(made), keys.BATCH_DONE_TTL)
    batch = batches.get(services, tenant, batch_id)
    batch.made, batch.made_at = made, utcnow()
    if batch_listing.pending(sources):  # canceled before its prefixes were listed
        batch.total = len(sources)
    if batch.status == "making":
        batch.status = "running"
    batches.save(services, batch)
    batch_counts.made_all(state, batch_id, made)
    state.discard(keys.BATCHES_MAKING, member)
    state.delete(cursor)
    batch_counts.check_end(state, services.queue, tenant, batch_id)
    log.info("batch %s: %d jobs made", batch_id, made)


def _make(services: Services, batch: Batch, index: int, source: dict):
    job_id = keys.batch_job_id(batch.id, index)
    try:
        services.lifecycle.create(
            job_id=job_id,
            tenant=batch.tenant,
            filename=source["filename"],
            size=0,
            source_url=source.get("url"),
            source_object=source.get("object"),
            options=batch.options,
            engine=batch.engine,
            batch_id=batch.id,
        )
    except WriteConflict:  # made by a task before this one
        _whole(services, batch.tenant, job_id)


def _whole(services: Services, tenant: str, job_id: str):
    """A job made before: if the task that made it died between its record and its state,
    the state it would have had (recovery then queues it, as any job the queue lost)."""
    records = services.records
    if records.live.get(job_id) is not None:
        return
    job = records.stored(job_id, tenant)
    if job.status is not JobStatus.QUEUED or len(job.moves) != 1:
        return  # it moved on: its state was written then
    with services.state.batch() as batch:
        records.live.put(job, into=batch)
        records.live.opened(tenant, job_id, into=batch)
        records.live.moved(job, None, into=batch)
    log.warning("job %s: made by a task that died before its state; state written", job_id)
