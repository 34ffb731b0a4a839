"""Content-addressed dedup: the same bytes with the same engine and options, extracted once.

The index lives in storage, beside the results it points at (S3 is the source of truth, and
a result outlives any Redis): dedup/<tenant>/<sha256>/<options digest>.json names the job
whose results hold the extraction. Per tenant, so one tenant never learns what another
uploaded. An entry whose results are gone (expired by RESULT_RETENTION_DAYS, or the job
re-run and failed) is simply a miss.

The hash is always of the bytes the worker downloaded for this run, never one recorded
earlier, and a job's password is part of the options digest as an HMAC keyed by
OPTIONS_SECRET: an encrypted PDF opened once with the right password is not handed to a job
with no password or a wrong one, and the index never holds anything a password can be
guessed from offline.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
from dataclasses import dataclass

from core import keys
from core.adapters.storage import Storage
from core.errors import ObjectMissing, PdfqError
from core.jobs import results


@dataclass(frozen=True)
class Earlier:
    """A finished job whose results can stand for a new job's."""

    job_id: str
    summary: dict  # its result.json


def options_digest(
    engine: str, engine_version: str, options: dict | None = None, password: str = ""
) -> str:
    """Everything that changes the extracted text, hashed: the engine, its version, options,
    and which password opened the file (`password_digest`, '' for none)."""
    canonical = json.dumps(
        {
            "engine": engine,
            "engine_version": engine_version,
            "options": options or {},
            "password": password,
        },
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


def password_digest(password: str, secret: str) -> str:
    """A keyed digest of a job's password ('' when it has none) for options_digest."""
    if not password:
        return ""
    message = b"pdfq-dedup-password-v1:" + password.encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def find(storage: Storage, tenant: str, sha256: str, digest: str, job_id: str) -> Earlier | None:
    """The earlier job (not `job_id` itself) that extracted these bytes, if its results remain."""
    try:
        entry, _ = storage.get_json(keys.dedup_key(tenant, sha256, digest))
        earlier = entry["job_id"]
        if earlier == job_id or not keys.is_job_id(earlier):
            return None
        summary, _ = storage.get_json(keys.result_key(tenant, earlier, "result.json"))
        # Counted as they stream by, never held: results a worker that died half wrote (or a
        # re-run is rewriting) are a miss, and the bytes are extracted again.
        pages = results.stream_lines(storage, keys.result_key(tenant, earlier, "pages.jsonl"))
        if sum(1 for _ in pages) != summary.get("page_count"):
            return None
    except (ObjectMissing, KeyError, TypeError, ValueError, AttributeError):
        return None
    return Earlier(earlier, {k: v for k, v in summary.items() if k != "job_id"})


def remember(storage: Storage, tenant: str, sha256: str, digest: str, job_id: str):
    """Point the index at `job_id`; losing this write only costs one future extraction."""
    with contextlib.suppress(PdfqError):
        storage.put_json(keys.dedup_key(tenant, sha256, digest), {"job_id": job_id})


def file_sha256(path) -> str:
    with open(path, "rb") as fp:
        return hashlib.file_digest(fp, "sha256").hexdigest()
