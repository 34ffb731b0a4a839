"""Content-addressed dedup: the same bytes with the same engine and options, extracted once.

The pointer lives in the state store: dedup:<tenant>:<sha256>:<options digest> names the job
whose result object holds the extraction, for as long as results are kept. Per tenant, so one
tenant never learns what another uploaded. A pointer is only a shortcut: losing it (a flushed
Redis) costs one extraction, and a pointer whose result is gone (expired, or its job erased)
is a miss, found when the copy of that object fails. It is written only after the job's
record says it succeeded with that result, and erasing a job removes it, so no pointer names
a job that was erased, or a result no record kept.

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
from core.adapters.state import State
from core.errors import PdfqError
from core.jobs.model import Job


@dataclass(frozen=True)
class Earlier:
    """A finished job whose result can stand for a new job's."""

    job_id: str
    result: str  # the key of its result object


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


def find(state: State, tenant: str, sha256: str, digest: str, job_id: str) -> Earlier | None:
    """The earlier job (not `job_id` itself) that extracted these bytes, as the pointer says."""
    try:
        raw = state.get(keys.dedup_key(tenant, sha256, digest))
    except PdfqError:  # the state store is down: extract
        return None
    if not raw:
        return None
    earlier, _, result = raw.partition(" ")
    if earlier == job_id or not keys.is_job_id(earlier) or not result:
        return None
    return Earlier(earlier, result)


def remember(state: State, job: Job, sha256: str, digest: str, ttl: int):
    """Point the index at the job's result; losing this write only costs a future extraction."""
    with contextlib.suppress(PdfqError):
        value = f"{job.id} {(job.result or {})['key']}"
        state.set(keys.dedup_key(job.tenant, sha256, digest), value, ttl)


def forget(state: State, job: Job):
    """Remove the pointer at the job's result (it is being erased)."""
    digest = (job.result or {}).get("dedup")
    if not job.sha256 or not digest:
        return
    key = keys.dedup_key(job.tenant, job.sha256, digest)
    if (state.get(key) or "").partition(" ")[0] == job.id:
        state.delete(key)


def file_sha256(path) -> str:
    with open(path, "rb") as fp:
        return hashlib.file_digest(fp, "sha256").hexdigest()
