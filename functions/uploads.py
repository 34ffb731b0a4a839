"""POST /documents: a PDF sent through the web app, spooled to disk, then streamed to S3."""

from __future__ import annotations

import unicodedata

from flask import Blueprint, request, url_for

from core.errors import BadRequest
from core.settings import get_settings
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

    job = submit_upload(
        stream, filename=clean_filename(upload.filename), size=size, tenant=current_tenant()
    )
    body = job_view(job)
    return body, 202, {"Location": url_for("jobs.get_job", job_id=job.id)}


def clean_filename(name: str | None) -> str:
    """A display name only (never a key): last path part, printable, bounded."""
    name = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c for c in unicodedata.normalize("NFC", name) if c.isprintable()).strip()
    return name[:MAX_FILENAME_CHARS] or "upload.pdf"
