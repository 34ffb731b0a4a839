"""Uploads straight to storage: POST /uploads signs one, POST /uploads/<id>/complete queues it.

The PDF travels from the client to S3 under a key pdfq chose; this process sees only the small
JSON around it. The signed POST policy binds the key, the size range and the content type;
real S3 enforces it, local fakes (moto, ...) do not, so completion re-checks size and bytes.
"""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, url_for

from core import keys
from core.clock import utcnow
from core.errors import BadRequest, JobDeleted, NotFound, UnsupportedMediaType
from core.jobs import carried, pdfcheck
from core.jobs import options as job_options
from core.services import Services
from functions import limits
from functions.auth import current_tenant
from functions.context import caller, services
from functions.documents import ascii_name, check_fields, clean_filename, creation_options
from functions.job_views import job_view

bp = Blueprint("uploads", __name__)
PDF = "application/pdf"
FIELDS = ("filename", "content_type", "size", "callback_url", "engine", *job_options.FIELDS)


@bp.post("/uploads")
def create_upload():
    """Create a job awaiting its upload and answer 201 with a presigned POST and PUT for it."""
    body = limits.json_body()  # the Content-Type header may be missing
    if not isinstance(body, dict):
        raise BadRequest('Send a JSON object: {"filename": ..., "content_type": ..., "size": ...}.')
    runtime = services()
    filename, size = _validated(body, runtime.settings.max_upload_bytes)
    options, callback_url = creation_options(runtime, body, strings=False)
    engine = job_options.engine(
        body.get("engine"), runtime.settings.default_engine, runtime.settings
    )

    tenant = current_tenant()
    limits.check_capacity(runtime, tenant)
    job_id = keys.new_job_id()
    fields = {
        "job_id": job_id,
        "tenant": tenant,
        "filename": filename,
        "size": size or 0,
        "options": job_options.seal(options, runtime.settings),
        "callback_url": callback_url,
        "engine": engine,
    }
    # The object the client uploads carries the job (core/jobs/carried.py) when it can:
    # then signing the upload makes no storage request at all.
    now = utcnow()
    carries = carried.metadata(
        carried.created(**fields, created_at=now), runtime.settings.options_secret
    )
    # Signing is local (no request), so it comes first: if it fails, no job is left behind.
    upload = sign_upload(runtime, keys.source_key(tenant, job_id), filename, size, carries)
    job = runtime.lifecycle.create(
        **fields, awaiting_upload=True, carried=carries is not None, created_at=now
    )
    view = job_view(job)
    view["links"]["complete"] = url_for("uploads.complete", job_id=job.id)
    view["upload"] = upload
    return view, 201, {"Location": url_for("jobs.get_job", job_id=job.id)}


@bp.post("/uploads/<job_id>/complete")
def complete(job_id: str):
    """Check the uploaded object and queue the job: 202 when this call queued it, 200 after."""
    runtime, tenant = services(), current_tenant()
    try:
        job = runtime.records.get(job_id, tenant)
    except JobDeleted:
        raise
    except NotFound:  # the state store lost it before the upload was completed
        job, queued = runtime.lifecycle.adopt_upload(tenant, job_id, caller())
    else:
        job, queued = runtime.lifecycle.complete_upload(job, caller())
    return (
        job_view(job),
        202 if queued else 200,
        {"Location": url_for("jobs.get_job", job_id=job.id)},
    )


def _validated(body: dict, limit: int) -> tuple[str, int | None]:
    """(display filename, declared size or None) from the request body; 4xx naming the field."""
    check_fields(body, FIELDS)
    for name in ("filename", "content_type"):
        if name not in body:
            raise BadRequest(f"Field {name!r} is required.")
        if not isinstance(body[name], str):
            raise BadRequest(f"Field {name!r} must be a string.")
    media_type = body["content_type"].split(";", 1)[0].strip().lower()
    if media_type != PDF:
        raise UnsupportedMediaType(
            f"Field 'content_type' must be {PDF}; got {body['content_type']!r}."
        )
    size = body.get("size")
    if size is not None:
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise BadRequest("Field 'size' must be a whole number of bytes.")
        pdfcheck.check_size(size, limit, "By its field 'size', the file")
    return clean_filename(body["filename"]), size


def sign_upload(
    runtime: Services, key: str, filename: str, size: int | None, carries: dict | None = None
) -> dict:
    """A presigned POST (for browsers) and, for a declared size, PUT (for scripts) of `key`,
    and when they expire. `carries`: the metadata that carries the job, bound into both."""
    settings, storage = runtime.settings, runtime.storage
    expires = settings.presign_expiry
    meta = {"x-amz-meta-filename": ascii_name(filename)}
    meta.update({f"x-amz-meta-{name}": value for name, value in (carries or {}).items()})
    post = storage.presign_post(
        key,
        fields={"Content-Type": PDF, **meta},
        conditions=[
            {"Content-Type": PDF},
            ["content-length-range", 1, settings.max_upload_bytes],
            *({name: value} for name, value in meta.items()),
        ],
        expires=expires,
    )
    put = None
    if size is not None:  # a PUT URL always signs its length: unbounded, it could write 5 GB
        carried_headers = {name: value for name, value in meta.items() if "pdfq-" in name}
        put = {
            "url": storage.presign_put(
                key, content_type=PDF, size=size, expires=expires, headers=carried_headers
            ),
            "headers": {"Content-Type": PDF, "Content-Length": str(size), **carried_headers},
        }
    expires_at = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=expires)
    return {
        "expires_at": expires_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "max_bytes": settings.max_upload_bytes,
        "post": {"url": post["url"], "fields": post["fields"]},
        "put": put,
    }
