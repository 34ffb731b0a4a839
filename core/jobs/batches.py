"""Batches: up to MAX_SOURCES documents sent in one request, with shared options.

The web only checks the request and writes two objects, the sources (`sources.json`) and
the batch's record, then queues MAKE_BATCH_JOBS and answers 202: no web thread makes jobs
or lists a bucket. A worker lists the granted prefixes among the sources, then makes one job
per source (core/jobs/batch_making.py). Once every job is made the batch's total is written;
the job that ends last queues END_BATCH
(core/jobs/batch_counts.py), which writes the manifest (one JSON line per job: its source,
status, error code and result key), the record's end, and queues the `batch.finished`
webhook when the batch has a callback URL.

Jobs of a batch carry no callback URL of their own: the batch calls back once. Cancel and
erase run in a worker too (STOP_BATCH), a job at a time through the lifecycle.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import unquote, urlsplit

from core import keys
from core.adapters.queue import DELIVER_BATCH_WEBHOOK, MAKE_BATCH_JOBS, STOP_BATCH
from core.clock import seconds_since, utcnow
from core.errors import BadRequest, Conflict, NotFound, ObjectMissing, PdfqError
from core.jobs import batch_counts
from core.jobs.model import Job, JobStatus
from core.services import Services

log = logging.getLogger("pdfq.batches")
MAX_SOURCES = 10_000
MAKERS = 8  # jobs made (or read, for the manifest) at once by one task
MAKER_QUEUED = "queued"  # the making task's lease while the task waits on the queue


@dataclasses.dataclass
class Batch:
    id: str
    tenant: str
    status: str  # making, running, finished, canceled
    total: int  # the sources; a prefix's objects count once listed
    created_at: str
    options: dict
    engine: str | None = None
    callback_url: str | None = None
    made: int = 0
    ended_at: str | None = None
    manifest: str | None = None
    counts: dict | None = None  # by status, kept on the record once the batch ended
    pages_done: int | None = None
    listing: dict | None = None  # a batch naming prefixes: {"done": False} until listed
    made_at: str | None = None  # when every job was made (or a cancel stopped the making)


def source_filename(url: str) -> str:
    """A job's display name from its URL: the path's last part, decoded."""
    return unquote(urlsplit(url).path.rstrip("/").rpartition("/")[2]) or "download.pdf"


def create(
    services: Services,
    tenant: str,
    sources: list[dict],
    *,
    options: dict,
    engine: str | None,
    callback_url: str | None,
) -> Batch:
    """The batch, recorded, its jobs to be made by a worker. `sources`: checked already,
    each {"url", "filename"}, {"object": {"bucket", "key"}, "filename"} (a granted key) or
    {"list": {"bucket", "prefix"[, "start_after"]}} (a granted prefix, listed by the worker)."""
    if not 1 <= len(sources) <= MAX_SOURCES:
        raise BadRequest(f"Field 'sources' must list 1 to {MAX_SOURCES} sources.")
    batch = Batch(
        id=keys.new_job_id(),
        tenant=tenant,
        status="making",
        total=sum(1 for source in sources if "list" not in source),
        created_at=utcnow(),
        options=options,
        engine=engine,
        callback_url=callback_url,
        listing={"done": False} if any("list" in source for source in sources) else None,
    )
    storage = services.storage
    storage.put_bytes(
        keys.batch_sources_key(tenant, batch.id), json.dumps(sources).encode(), "application/json"
    )
    save(services, batch)
    services.state.add(keys.BATCHES_MAKING, f"{tenant}/{batch.id}")
    queue_making(services, tenant, batch.id)
    return batch


def maker_lease(batch_id: str) -> str:
    """The name of the lease of the task making the batch's jobs (core/jobs/inflight.py)."""
    return f"batch:{batch_id}"


def queue_making(services: Services, tenant: str, batch_id: str):
    """Queue the task that makes the batch's jobs, at the head of the queue; its lease is
    held for it RECONCILE_GRACE_SECONDS, so recovery leaves it alone while it is on its way."""
    ttl = max(1, services.settings.reconcile_grace)
    services.state.set(keys.lease_key(maker_lease(batch_id)), MAKER_QUEUED, ttl)
    services.queue.put_first(MAKE_BATCH_JOBS, tenant, batch_id)


def get(services: Services, tenant: str, batch_id: str) -> Batch:
    if not keys.is_job_id(batch_id):
        raise NotFound(f"No batch {batch_id!r}.")
    try:
        record, _ = services.storage.get_json(keys.batch_key(tenant, batch_id))
    except ObjectMissing:
        raise NotFound(f"No batch {batch_id!r}.") from None
    return Batch(**record)


def save(services: Services, batch: Batch):
    services.storage.put_json(keys.batch_key(batch.tenant, batch.id), dataclasses.asdict(batch))


def job_ids(batch: Batch, start: int = 0, stop: int | None = None) -> list[str]:
    """The ids of the batch's jobs, in the order of its sources."""
    return [keys.batch_job_id(batch.id, i) for i in range(start, stop or batch.total)]


def progress(services: Services, batch: Batch) -> dict:
    """Jobs by status, pages extracted, and an ETA from the pace so far."""
    if batch.counts is not None:  # ended: the record keeps the final figures
        by_status, pages = batch.counts, batch.pages_done or 0
    else:
        by_status, pages, _ = batch_counts.counts(services.state, batch.id)
    done = batch_counts.ended(_statuses(by_status))
    eta = None
    if batch.ended_at is None and done:
        eta = round(seconds_since(batch.created_at) / done * (batch.total - done), 1)
    return {"counts": by_status, "jobs_done": done, "pages_done": pages, "eta_seconds": eta}


def _statuses(by_status: dict[str, int]) -> dict[str, int]:
    return {s.value: by_status.get(s.value, 0) for s in JobStatus}


# --- the worker's side (making the jobs: core/jobs/batch_making.py) ---


def stop(services: Services, tenant: str, batch_id: str, erase: bool):
    """Cancel every job of the batch that has not ended (STOP_BATCH); with `erase`, erase
    every job, then the batch's own objects and counters."""
    batch = get(services, tenant, batch_id)
    lifecycle, records = services.lifecycle, services.records

    def one(job_id: str):
        try:
            job = records.get(job_id, tenant)
            if erase:
                lifecycle.erase(job)
            elif not job.status.terminal:
                lifecycle.cancel(job)
        except (NotFound, Conflict):  # not made, erased, ended meanwhile
            pass

    with ThreadPoolExecutor(MAKERS, thread_name_prefix="pdfq-batch") as pool:
        list(pool.map(one, job_ids(batch)))
    if erase:
        for key in (
            keys.batch_sources_key(tenant, batch_id),
            keys.batch_manifest_key(tenant, batch_id),
            keys.batch_key(tenant, batch_id),
        ):
            with contextlib.suppress(ObjectMissing):
                services.storage.delete(key)
        batch_counts.forget(services.state, batch_id, ttl=None)
        log.info("batch %s: erased", batch_id)


def end(services: Services, tenant: str, batch_id: str):
    """Every job ended (END_BATCH): the manifest, the record's end, the webhook."""
    batch = get(services, tenant, batch_id)
    if batch.ended_at:
        return
    ids = job_ids(batch, 0, batch.made or batch.total)
    sources = json.loads(services.storage.get_bytes(keys.batch_sources_key(tenant, batch_id)))

    def line(index: int) -> bytes:
        try:
            job = services.records.get(ids[index], tenant, tombstone=True)
        except NotFound:
            job = None
        return (json.dumps(_manifest_line(index, ids[index], sources[index], job)) + "\n").encode()

    with ThreadPoolExecutor(MAKERS, thread_name_prefix="pdfq-batch") as pool:
        body = b"".join(pool.map(line, range(len(ids))))
    manifest = keys.batch_manifest_key(tenant, batch_id)
    services.storage.put_bytes(manifest, body, "application/x-ndjson")
    by_status, pages, _ = batch_counts.counts(services.state, batch_id)
    batch.counts, batch.pages_done = _statuses(by_status), pages
    batch.manifest, batch.ended_at = manifest, utcnow()
    if batch.status != "canceled":
        batch.status = "finished"
    save(services, batch)
    batch_counts.forget(services.state, batch_id)
    if batch.callback_url:
        services.queue.put(DELIVER_BATCH_WEBHOOK, tenant, batch_id)
    log.info("batch %s: %s, manifest %s", batch_id, batch.status, manifest)


def _named(source: dict) -> str:
    """A source as the manifest names it: its URL, or s3://<bucket>/<key> of a granted key
    (s3://<bucket>/<prefix> of a prefix a cancel stopped before it was listed)."""
    if "url" in source:
        return source["url"]
    if "list" in source:
        return f"s3://{source['list']['bucket']}/{source['list']['prefix']}"
    return f"s3://{source['object']['bucket']}/{source['object']['key']}"


def _manifest_line(index: int, job_id: str, source: dict, job: Job | None) -> dict:
    if job is None:  # never made (the batch was canceled first)
        return {"index": index, "job_id": None, "source": _named(source), "status": "not_made"}
    return {
        "index": index,
        "job_id": job_id,
        "source": _named(source),
        "filename": source["filename"],
        "status": job.status.value,
        "error_code": (job.error or {}).get("code"),
        "result_key": (job.result or {}).get("key"),
        "pages": job.pages_total,
    }


def cancel(services: Services, batch: Batch) -> Batch:
    """Stop the batch: no more jobs made, every waiting or running job canceled (a worker's
    task); 409 once it has ended."""
    if batch.ended_at:
        raise Conflict(f"Batch {batch.id} has ended already; nothing to cancel.")
    batch.status = "canceled"
    save(services, batch)
    services.queue.put_first(STOP_BATCH, batch.tenant, batch.id, False)
    return batch


def erase(services: Services, batch: Batch):
    """Erase the batch and every job of it, in a worker's task."""
    with contextlib.suppress(PdfqError):
        if not batch.ended_at:
            batch.status = "canceled"
            save(services, batch)
    services.queue.put_first(STOP_BATCH, batch.tenant, batch.id, True)
