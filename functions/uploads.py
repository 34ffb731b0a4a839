"""POST /documents: a PDF sent through the web app, spooled to disk, then streamed to S3."""

from __future__ import annotations

import hashlib
import unicodedata

from flask import Blueprint, request, url_for

from core.errors import BadRequest
from core.settings import ENGINES, get_settings
from functions import idempotency
from functions.auth import current_tenant
from functions.intake import check_pdf
from functions.jobs import job_view
from functions.submission import submit_upload

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
    engine = request.form.get("engine") or get_settings().default_engine
    if engine not in ENGINES:
        raise BadRequest(f"engine must be one of {', '.join(ENGINES)}; got {engine!r}.")
    job, replayed = idempotency.once(
        tenant,
        fingerprint=f"documents:{digest}:{filename}:{engine}",
        create=lambda: submit_upload(
            stream, filename=filename, size=size, tenant=tenant, sha256=digest, engine=engine
        ),
    )
    headers = {"Location": url_for("jobs.get_job", job_id=job.id)}
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    return job_view(job), 202, headers


def clean_filename(name: str | None) -> str:
    """A display name only (never a key): last path part, printable, bounded."""
    name = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c for c in unicodedata.normalize("NFC", name) if c.isprintable()).strip()
    return name[:MAX_FILENAME_CHARS] or "upload.pdf"
