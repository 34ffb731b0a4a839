"""Idempotency-Key on job-creating endpoints: a retried request returns the original job.

The key is remembered (in the state store, for IDEMPOTENCY_TTL) with a fingerprint of
the request; the same key with a different request is a 409, so a client bug that
reuses keys cannot silently get someone else's job.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable

from flask import request

from core import services
from core.errors import BadRequest, Conflict
from core.jobs import Job

HEADER = "Idempotency-Key"
TTL_SECONDS = 24 * 3600
MAX_KEY_CHARS = 255


class IdempotencyKeyReused(Conflict):
    code = "idempotency_key_reused"
    default_message = "This Idempotency-Key was used for a different request."


class IdempotentRequestInProgress(Conflict):
    code = "idempotency_in_progress"
    default_message = "A request with this Idempotency-Key is still being processed."

    def __init__(self, message: str | None = None):
        super().__init__(message, retry_after=1)


def once(tenant: str, fingerprint: str, create: Callable[[], Job]) -> tuple[Job, bool]:
    """(job, replayed): run `create` once per Idempotency-Key; replays return the first job."""
    key = request.headers.get(HEADER)
    if key is None:
        return create(), False
    if not 0 < len(key) <= MAX_KEY_CHARS or not key.isascii() or not key.isprintable():
        raise BadRequest(f"{HEADER} must be 1-{MAX_KEY_CHARS} printable ASCII characters.")
    state = services.state()
    slot = f"idem:{tenant}:{hashlib.sha256(key.encode()).hexdigest()}"
    if state.set_if_absent(slot, json.dumps({"fp": fingerprint, "job": None}), TTL_SECONDS):
        try:
            job = create()
        except BaseException:
            state.delete(slot)  # nothing was created: the client may retry with the same key
            raise
        state.set(slot, json.dumps({"fp": fingerprint, "job": job.id}), TTL_SECONDS)
        return job, False
    seen = json.loads(state.get(slot) or '{"fp": null, "job": null}')
    if seen["fp"] != fingerprint:
        raise IdempotencyKeyReused()
    if seen["job"] is None:
        raise IdempotentRequestInProgress()
    return services.jobs().get(seen["job"], tenant), True
