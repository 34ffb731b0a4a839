"""Batches over HTTP: POST /batches (202 at once), its progress, its jobs, cancel, DELETE,
and the manifest once it has ended. The work is the worker's (core/jobs/batches.py)."""

from __future__ import annotations

import base64
from concurrent.futures import ThreadPoolExecutor

from flask import Blueprint, Response, request, url_for

from core.adapters import granted
from core.errors import BadRequest, Conflict, Forbidden, NotFound
from core.jobs import batches
from core.jobs import options as job_options
from functions import limits
from functions.auth import current_tenant
from functions.context import services
from functions.documents import check_fields, checked_source_url, clean_filename, creation_options
from functions.job_views import job_view

bp = Blueprint("batches", __name__)
FIELDS = ("sources", "callback_url", "engine", *job_options.FIELDS)
PAGE_DEFAULT, PAGE_MAX = 50, 200


@bp.post("/batches")
def create_batch():
    """202 with the batch at once; a worker makes its jobs."""
    body = limits.json_body()
    if not isinstance(body, dict):
        raise BadRequest("Send a JSON object with the field 'sources'.")
    check_fields(body, FIELDS)
    runtime = services()
    settings = runtime.settings
    tenant = current_tenant()
    sources = _sources(body.get("sources"), tenant)
    options, callback_url = creation_options(runtime, body, strings=False)
    engine = job_options.engine(body.get("engine"), settings.default_engine, settings)
    limits.check_capacity(runtime, tenant)
    batch = batches.create(
        runtime,
        tenant,
        sources,
        options=job_options.seal(options, settings),
        engine=engine,
        callback_url=callback_url,
    )
    location = url_for("batches.get_batch", batch_id=batch.id)
    return batch_view(batch), 202, {"Location": location}


def _sources(given, tenant: str) -> list[dict]:
    if not isinstance(given, list) or not 1 <= len(given) <= batches.MAX_SOURCES:
        raise BadRequest(f"Field 'sources' must be a list of 1 to {batches.MAX_SOURCES} sources.")
    settings = services().settings
    sources = []
    for index, source in enumerate(given):
        if isinstance(source, str):
            source = {"url": source}
        if isinstance(source, dict) and "prefix" in source:
            try:  # a prefix in a bucket granted to the tenant, listed by the worker
                sources.append({"list": granted.checked_prefix(settings, tenant, source)})
            except (BadRequest, Forbidden) as problem:
                raise type(problem)(f"sources[{index}]: {problem.message}") from None
            continue
        if isinstance(source, dict) and set(source) - {"filename"} == {"bucket", "key"}:
            try:  # a key in a bucket granted to the tenant (403 outside it)
                found = granted.checked_source(
                    settings, tenant, {k: source[k] for k in ("bucket", "key")}
                )
            except (BadRequest, Forbidden) as problem:
                raise type(problem)(f"sources[{index}]: {problem.message}") from None
            where, default = {"object": found}, found["key"].rpartition("/")[2]
        elif isinstance(source, dict) and set(source) - {"filename"} == {"url"}:
            try:
                url = checked_source_url(source.get("url"))
            except BadRequest:
                problem = "must be an http(s) URL with a host and no credentials"
                raise BadRequest(f"sources[{index}] {problem}.") from None
            where, default = {"url": url}, batches.source_filename(url)
        else:
            raise BadRequest(
                f"sources[{index}] must be a URL, an object with 'url' (or 'bucket' and "
                "'key') and an optional 'filename', or a granted prefix {'bucket', 'prefix'}."
            )
        name = source.get("filename")
        if name is not None and not isinstance(name, str):
            raise BadRequest(f"sources[{index}].filename must be a string.")
        sources.append({**where, "filename": clean_filename(name or default)})
    return sources


def batch_view(batch: batches.Batch) -> dict:
    runtime = services()
    return {
        "id": batch.id,
        "status": batch.status,
        "total": batch.total,
        "jobs_made": batch.made,
        **batches.progress(runtime, batch),
        "created_at": batch.created_at,
        "ended_at": batch.ended_at,
        "engine": batch.engine,
        "options": job_options.public(batch.options),
        "callback_url": batch.callback_url,
        "listing": batch.listing,
        "links": {
            "self": url_for("batches.get_batch", batch_id=batch.id),
            "jobs": url_for("batches.batch_jobs", batch_id=batch.id),
            "cancel": url_for("batches.cancel_batch", batch_id=batch.id),
            "manifest": url_for("batches.batch_manifest", batch_id=batch.id),
        },
    }


def _batch(batch_id: str) -> batches.Batch:
    return batches.get(services(), current_tenant(), batch_id)


@bp.get("/batches/<batch_id>")
def get_batch(batch_id: str):
    return batch_view(_batch(batch_id))


@bp.get("/batches/<batch_id>/jobs")
def batch_jobs(batch_id: str):
    """The batch's jobs in the order of its sources, a page at a time (`cursor`, `limit`);
    sources whose job is not made yet are left out."""
    batch = _batch(batch_id)
    limit = _limit()
    start = _decode(request.args.get("cursor")) if request.args.get("cursor") else 0
    stop = min(start + limit, batch.total)
    records = services().records

    def read(job_id: str):
        try:
            return records.get(job_id, batch.tenant)
        except NotFound:  # not made yet, or erased
            return None

    with ThreadPoolExecutor(8, thread_name_prefix="pdfq-batch-page") as pool:
        found = [job for job in pool.map(read, batches.job_ids(batch, start, stop)) if job]
    next_cursor = _encode(stop) if stop < batch.total else None
    links = {"next": url_for("batches.batch_jobs", batch_id=batch.id, cursor=next_cursor)}
    return {
        "jobs": [job_view(job) for job in found],
        "next_cursor": next_cursor,
        "links": links if next_cursor else {},
    }


def _limit() -> int:
    value = request.args.get("limit", str(PAGE_DEFAULT))
    if not (len(value) <= 4 and value.isdigit() and 1 <= int(value) <= PAGE_MAX):
        raise BadRequest(f"limit must be a whole number from 1 to {PAGE_MAX}; got {value[:20]!r}.")
    return int(value)


def _encode(index: int) -> str:
    return base64.urlsafe_b64encode(f"b1:{index}".encode()).decode().rstrip("=")


def _decode(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        version, index = text.split(":")
        if version != "b1" or not index.isdigit() or len(index) > 6:
            raise ValueError
        return int(index)
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("cursor is not one this batch's listing gave.") from None


@bp.post("/batches/<batch_id>/cancel")
def cancel_batch(batch_id: str):
    """202: no more jobs are made, and every job not ended is canceled by a worker."""
    return batch_view(batches.cancel(services(), _batch(batch_id))), 202


@bp.delete("/batches/<batch_id>")
def delete_batch(batch_id: str):
    """202: a worker erases every job of the batch, then the batch."""
    batch = _batch(batch_id)
    batches.erase(services(), batch)
    return {"id": batch.id, "status": "deleting"}, 202


@bp.get("/batches/<batch_id>/manifest")
def batch_manifest(batch_id: str):
    """The ended batch's manifest, JSON lines (409 while it runs)."""
    batch = _batch(batch_id)
    if not batch.manifest:
        raise Conflict(f"Batch {batch.id} has not ended; its manifest is written when it does.")
    data = services().storage.get_bytes(batch.manifest)
    return Response(data, content_type="application/x-ndjson")
