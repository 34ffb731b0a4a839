"""A presigned upload carries its own job: the creation record travels in the uploaded
object's metadata, signed by pdfq, so the job becomes durable with the bytes themselves.

Signing an upload costs no storage request (the web writes the job's live copy only); the
upload stores the PDF and, in its metadata (`x-amz-meta-pdfq-job` and `-pdfq-sig`), what the
job was created with. Completing the upload writes the record; when the state store lost the
job before that, completion reads it back from the object (`opened`). The signature, an HMAC
keyed by OPTIONS_SECRET over the object key and the record, keeps a client from making a job
of another tenant's or with other options on a store that does not enforce POST policies
(S3 does: the fields are conditions of the policy, and signed headers of the PUT URL).

A record too large for S3's 2 KB of user metadata (a long callback URL and options), or a
deployment without OPTIONS_SECRET, is not carried: the web writes it at once, as for a
direct upload.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

from core import keys
from core.jobs.model import Job, JobStatus

FIELD = "pdfq-job"
SIGNATURE = "pdfq-sig"
# S3 keeps at most 2 KB of user metadata (names and values); the filename field and the
# names take their share.
MAX_CHARS = 1700
_CARRIED = ("filename", "size", "options", "callback_url", "engine", "created_at")


def created(*, job_id: str, tenant: str, created_at: str, **fields) -> Job:
    """The job an upload's object would carry: awaiting it, made at `created_at`."""
    return Job(
        id=job_id,
        tenant=tenant,
        status=JobStatus.AWAITING_UPLOAD,
        source_key=keys.source_key(tenant, job_id),
        created_at=created_at,
        updated_at=created_at,
        status_changed_at=created_at,
        **fields,
    )


def _digest(secret: str, key: str, encoded: str) -> str:
    message = f"pdfq-carried-v1\n{key}\n{encoded}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def metadata(job: Job, secret: str) -> dict[str, str] | None:
    """The object metadata (names without `x-amz-meta-`) that carry `job`; None when it cannot
    be carried (no secret, or too large)."""
    if not secret:
        return None
    record = {name: getattr(job, name) for name in _CARRIED}
    encoded = base64.urlsafe_b64encode(json.dumps(record, separators=(",", ":")).encode())
    text = encoded.decode()
    if len(text) > MAX_CHARS:
        return None
    return {FIELD: text, SIGNATURE: _digest(secret, job.source_key, text)}


def opened(found: dict[str, str], key: str, tenant: str, job_id: str, secret: str) -> Job | None:
    """The job the object at `key` carries, awaiting its upload's completion as when it was
    signed; None when it carries none, or one pdfq did not sign for this key."""
    text, signature = found.get(FIELD), found.get(SIGNATURE)
    if not (secret and text and signature):
        return None
    if not hmac.compare_digest(signature, _digest(secret, key, text)):
        return None
    try:
        record = json.loads(base64.urlsafe_b64decode(text.encode()))
        values = {name: record[name] for name in _CARRIED}
    except (ValueError, KeyError, TypeError):
        return None
    return Job(
        id=job_id,
        tenant=tenant,
        status=JobStatus.AWAITING_UPLOAD,
        source_key=key,
        updated_at=values["created_at"],
        status_changed_at=values["created_at"],
        **values,
    )
