"""POST /documents: a PDF sent through the web app, spooled to disk, then streamed to S3."""

from __future__ import annotations

import hashlib
import json
import unicodedata

from flask import Blueprint, request, url_for

from core import options as job_options
from core.errors import BadRequest
from core.settings import ENGINES, get_settings
from functions import idempotency, limits
from functions.auth import current_tenant
from functions.intake import check_pdf
from functions.jobs import job_view
from functions.submission import submit_upload
from functions.webhooks import checked_url

bp = Blueprint("uploads", __name__)
MAX_FILENAME_CHARS = 200


@bp.post("/documents")
def create_document():
    """Accept one PDF in the multipart field `file` and answer 202 with the new job."""
    upload = request.files.get("file")
    if upload is None:
        raise BadRequest("Send the PDF as multipart/form-data in a field named 'file'.")
    # Werkzeug spools parts over 500 KB to a temporary file, so memory stays bounded.
    stream = upload.stream
    size = check_pdf(stream, get_settings().max_upload_bytes)
    digest = hashlib.file_digest(stream, "sha256").hexdigest()
    stream.seek(0)

    filename, tenant = clean_filename(upload.filename), current_tenant()
    options, callback_url = creation_options(request.form, strings=True)
    engine = request.form.get("engine") or get_settings().default_engine
    if engine not in ENGINES:
        raise BadRequest(f"engine must be one of {', '.join(ENGINES)}; got {engine!r}.")

    def create():
        limits.check_capacity(tenant)  # here, so a replayed request is never refused
        return submit_upload(
            stream,
            filename=filename,
            size=size,
            tenant=tenant,
            sha256=digest,
            options=job_options.seal(options, get_settings()),
            callback_url=callback_url,
            engine=engine,
        )

    job, replayed = idempotency.once(
        tenant,
        fingerprint=f"documents:{digest}:{filename}:{engine}:{fingerprint(options, callback_url)}",
        create=create,
    )
    headers = {"Location": url_for("jobs.get_job", job_id=job.id)}
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    return job_view(job), 202, headers


def creation_options(fields, *, strings: bool) -> tuple[dict, str | None]:
    """(options in clear, callback URL) from form fields or a JSON body; 400 naming a field."""
    options = job_options.parse(dict(fields), strings=strings)
    url = fields.get("callback_url")
    return options, checked_url(url) if url else None


def fingerprint(options: dict, callback_url: str | None) -> str:
    """Options as part of an Idempotency-Key fingerprint (hashed: it may hold a password)."""
    text = json.dumps([options, callback_url], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def clean_filename(name: str | None) -> str:
    """A display name only (never a key): last path part, printable, bounded."""
    name = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c for c in unicodedata.normalize("NFC", name) if c.isprintable()).strip()
    if len(name) > MAX_FILENAME_CHARS:  # cut the stem, keep a short extension such as .pdf
        stem, dot, suffix = name.rpartition(".")
        suffix = f".{suffix}" if dot and stem and len(suffix) <= 10 else ""
        name = name[: MAX_FILENAME_CHARS - len(suffix)] + suffix
    return name or "upload.pdf"
