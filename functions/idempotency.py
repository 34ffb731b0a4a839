"""Idempotency-Key on job-creating endpoints: a retried request returns the original job.

The key is remembered (in the state store, for keys.IDEMPOTENCY_TTL) with a fingerprint of
the request; the same key with a different request is a 409, so a client bug that
reuses keys cannot silently get someone else's job. The fingerprint covers the options, a PDF
password among them, so only an HMAC of it is kept, keyed by a secret derived from
OPTIONS_SECRET: whoever reads the state store cannot test guesses of the password against it.
(Without OPTIONS_SECRET no password is accepted, so none reaches a fingerprint.)
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable

from flask import request

from core import keys
from core.errors import BadRequest, IdempotencyKeyReused, IdempotentRequestInProgress
from core.jobs.model import Job
from core.services import Services

HEADER = "Idempotency-Key"
MAX_KEY_CHARS = 255


def once(
    runtime: Services, tenant: str, fingerprint: str, create: Callable[[], Job]
) -> tuple[Job, bool]:
    """(job, replayed): run `create` once per Idempotency-Key; replays return the first job."""
    key = request.headers.get(HEADER)
    if key is None:
        return create(), False
    if not 0 < len(key) <= MAX_KEY_CHARS or not key.isascii() or not key.isprintable():
        raise BadRequest(f"{HEADER} must be 1-{MAX_KEY_CHARS} printable ASCII characters.")
    fingerprint = keyed(fingerprint, runtime.settings.options_secret)
    state, ttl = runtime.state, keys.IDEMPOTENCY_TTL
    slot = keys.idempotency_key(tenant, key)
    if state.set_if_absent(slot, json.dumps({"fp": fingerprint, "job": None}), ttl):
        try:
            job = create()
        except BaseException:
            state.delete(slot)  # nothing was created: the client may retry with the same key
            raise
        state.set(slot, json.dumps({"fp": fingerprint, "job": job.id}), ttl)
        return job, False
    seen = json.loads(state.get(slot) or '{"fp": null, "job": null}')
    if seen["fp"] != fingerprint:
        raise IdempotencyKeyReused()
    if seen["job"] is None:
        raise IdempotentRequestInProgress()
    return runtime.records.get(seen["job"], tenant), True


def keyed(fingerprint: str, secret: str) -> str:
    """The fingerprint as stored: HMAC-SHA256 under a key only the server holds."""
    key = hmac.new(secret.encode(), b"pdfq-idempotency-v1", hashlib.sha256).digest()
    return hmac.new(key, fingerprint.encode(), hashlib.sha256).hexdigest()
