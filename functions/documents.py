"""POST /documents: a PDF sent through the web app, spooled to disk, then streamed to storage.

`submit` is the whole of a direct upload, shared with `flask pdf submit`: the bytes to
storage, then the job (queued, with its task). If a step fails, what the earlier steps wrote
is removed, so a refused upload leaves no job behind and the client can simply try again.
"""

from __future__ import annotations

import hashlib
import json
import logging
from typing import IO

from flask import Blueprint, request, url_for

from core import egress, keys
from core.adapters import granted
from core.errors import BadRequest, PdfqError
from core.filenames import clean_filename
from core.jobs import batches, pdfcheck
from core.jobs import options as job_options
from core.jobs.model import Job
from core.services import Services
from core.webhooks import check_url
from functions import idempotency, limits
from functions.auth import current_tenant
from functions.context import services
from functions.job_views import job_view

log = logging.getLogger("pdfq.web")
bp = Blueprint("documents", __name__)
FIELDS = ("file", "callback_url", "engine", *job_options.FIELDS)
URL_FIELDS = ("source_url", "source", "filename", "callback_url", "engine", *job_options.FIELDS)


@bp.post("/documents")
def create_document():
    """Accept one PDF in the multipart field `file`, or the URL of one in `source_url` (JSON
    or form fields), and answer 202 with the new job."""
    upload = request.files.get("file")
    if upload is None:
        if request.is_json:
            body = limits.json_body()
            if not isinstance(body, dict):
                raise BadRequest("Send a JSON object with the field 'source_url'.")
            return create_from_url(body, strings=False)
        if "source_url" in request.form:  # (a granted bucket's key is JSON only)
            return create_from_url(request.form, strings=True)
        raise BadRequest(
            "Send the PDF as multipart/form-data in a field named 'file', "
            "or its URL in a field named 'source_url'."
        )
    check_fields([*request.form, *request.files], FIELDS)
    if len(request.files.getlist("file")) > 1:
        raise BadRequest("Send one PDF per request in the field 'file'.")
    runtime = services()
    settings = runtime.settings
    # Werkzeug spools parts over 500 KB to a temporary file, so memory stays bounded.
    stream = upload.stream
    size = pdfcheck.check_stream(stream, settings.max_upload_bytes)
    digest = hashlib.file_digest(stream, "sha256").hexdigest()
    stream.seek(0)

    filename, tenant = clean_filename(upload.filename), current_tenant()
    options, callback_url = creation_options(runtime, request.form, strings=True)
    engine = job_options.engine(request.form.get("engine"), settings.default_engine, settings)

    def create():
        limits.check_capacity(runtime, tenant)  # here, so a replayed request is never refused
        return submit(
            runtime,
            stream,
            filename=filename,
            size=size,
            tenant=tenant,
            sha256=digest,
            options=job_options.seal(options, settings),
            callback_url=callback_url,
            engine=engine,
        )

    job, replayed = idempotency.once(
        runtime,
        tenant,
        fingerprint=json.dumps(
            ["documents", digest, filename, engine, options, callback_url], sort_keys=True
        ),
        create=create,
    )
    return accepted(job, replayed)


def create_from_url(fields, *, strings: bool):
    """A job whose worker fetches its PDF from `source_url` (consumer/source_fetch.py; the
    web checks the URL's form only, never looks it up or calls it), or reads it from `source`,
    a key in a bucket granted to the tenant (core/adapters/granted.py; 403 outside it)."""
    check_fields(fields, URL_FIELDS)
    runtime = services()
    settings = runtime.settings
    tenant = current_tenant()
    if ("source" in fields) == ("source_url" in fields):
        raise BadRequest("Send one of 'source_url' and 'source' (with 'file', neither).")
    url, source = None, None
    if "source" in fields:  # a key in a bucket granted to the tenant
        source = granted.checked_source(settings, tenant, fields["source"])
        default_name = source["key"].rpartition("/")[2]
    else:
        url = checked_source_url(fields.get("source_url"))
        default_name = batches.source_filename(url)
    named = fields.get("filename")
    if named is not None and not isinstance(named, str):
        raise BadRequest("Field 'filename' must be a string.")
    filename = clean_filename(named or default_name)
    options, callback_url = creation_options(runtime, fields, strings=strings)
    engine = job_options.engine(fields.get("engine"), settings.default_engine, settings)

    def create():
        limits.check_capacity(runtime, tenant)
        return runtime.lifecycle.create(
            tenant=tenant,
            filename=filename,
            size=0,
            source_url=url,
            source_object=source,
            options=job_options.seal(options, settings),
            callback_url=callback_url,
            engine=engine,
        )

    job, replayed = idempotency.once(
        runtime,
        tenant,
        fingerprint=json.dumps(
            ["documents-url", url or source, filename, engine, options, callback_url],
            sort_keys=True,
        ),
        create=create,
    )
    return accepted(job, replayed)


def accepted(job: Job, replayed: bool):
    headers = {"Location": url_for("jobs.get_job", job_id=job.id)}
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    return job_view(job), 202, headers


def checked_source_url(url) -> str:
    """The URL if its form is one pdfq fetches (http(s), a host, no credentials); 400 naming
    `source_url` otherwise. Where it leads is the worker's check, at every hop."""
    try:
        egress.split_url(url)
    except egress.BadURL as problem:
        raise BadRequest(f"Field 'source_url' {problem}") from None
    return url.strip()


def submit(runtime: Services, fileobj: IO[bytes], *, filename: str, tenant: str, **job) -> Job:
    """Store an already checked PDF, then create its job queued (see the module's docstring)."""
    job_id = keys.new_job_id()
    source = keys.source_key(tenant, job_id)
    metadata = {"filename": ascii_name(filename)}
    runtime.storage.upload_file(source, fileobj, "application/pdf", metadata)
    try:
        return runtime.lifecycle.create(job_id=job_id, tenant=tenant, filename=filename, **job)
    except PdfqError:
        try:
            runtime.storage.delete(source)
        except PdfqError as exc:
            log.warning("could not remove the refused upload %s: %s", source, exc.message)
        raise


def check_fields(given, known) -> None:
    """400 naming the first field that is not one of `known`: a misspelt option must never
    be dropped silently, so a job never runs other than asked."""
    unknown = sorted(set(given) - set(known))
    if unknown:
        raise BadRequest(f"Unknown field {unknown[0]!r}; the fields are {', '.join(known)}.")


def creation_options(runtime: Services, fields, *, strings: bool) -> tuple[dict, str | None]:
    """(options in clear, callback URL) from form fields or a JSON body; 400 naming a field."""
    options = job_options.parse(dict(fields), strings=strings, settings=runtime.settings)
    url = fields.get("callback_url")
    return options, check_url(url, runtime.settings) if url else None


def ascii_name(filename: str) -> str:
    """The filename as object metadata: S3 user metadata travels in HTTP headers, ASCII only."""
    return filename.encode("ascii", "replace").decode("ascii")
