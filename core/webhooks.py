"""Webhook rules shared by the web (checks a callback URL) and the worker (signs, resolves).

Signature: header `Pdfq-Signature: t=<unix seconds>,v1=<hex>` where
hex = HMAC-SHA256(<the tenant's signing secret>, "<t>." + raw body). docs/api.md shows how to
verify it. Each tenant has its own signing secret, derived from WEBHOOK_SECRET (the open
development tenant's too), so one tenant cannot forge a delivery to another's receiver, and
no tenant ever holds the master secret.

Addresses: core/egress.py's rule. A callback host is resolved once per use, within a bound
(CHECK_SECONDS when a request names it, WEBHOOK_TIMEOUT's remainder at delivery), every
address it gives must be globally routable, and the delivery connects to those very
addresses (consumer/delivery.py), so a second lookup can never lead somewhere else.
"""

from __future__ import annotations

import hashlib
import hmac

from core import egress
from core.errors import BadRequest
from core.settings import Settings

SIGNATURE_HEADER = "Pdfq-Signature"
# The events a job calls back with: the end of each run, good or bad.
EVENTS = {"succeeded": "job.succeeded", "failed": "job.failed"}
# How long a request that names a callback URL waits for its host's lookup: a stalled
# resolver must not hold a web thread (the delivery looks the name up again anyway).
CHECK_SECONDS = 2.0


Target = egress.Target  # where one delivery goes


def check_url(url, settings: Settings) -> str:
    """The callback URL if pdfq may call it; 400 naming `callback_url` otherwise. The lookup
    waits CHECK_SECONDS at most (or WEBHOOK_TIMEOUT, when shorter)."""
    resolve(url, settings, timeout=min(CHECK_SECONDS, settings.webhook_timeout))
    return url.strip()


def parse(url, settings: Settings) -> Target:
    """The URL's parts, checked without a lookup (no addresses yet); 400 naming
    `callback_url` when pdfq may not call it."""
    if not settings.webhook_secret:
        raise BadRequest(
            "Field 'callback_url' cannot be accepted: this deployment has no WEBHOOK_SECRET "
            "to sign deliveries with."
        )
    try:
        return egress.split_url(url)
    except egress.BadURL as problem:
        raise BadRequest(f"Field 'callback_url' {problem}") from None


def resolve(url, settings: Settings, timeout: float) -> Target:
    """The URL resolved once (the lookup bounded by `timeout` seconds), every address
    allowed; 400 naming `callback_url` otherwise."""
    target = parse(url, settings)
    try:
        addresses = egress.resolve(
            target.host, target.port, timeout, allow_private=settings.webhook_allow_private
        )
    except egress.Unresolved:
        raise BadRequest(
            f"Field 'callback_url': cannot resolve {target.host!r} (within {timeout:g} s)."
        ) from None
    except egress.Refused:
        # The address itself is never echoed: it would map the server's internal DNS.
        raise BadRequest(
            f"Field 'callback_url': {target.host} resolves to an address that is not "
            "public (WEBHOOK_ALLOW_PRIVATE allows private ones)."
        ) from None
    return Target(target.scheme, target.host, target.port, target.path, addresses)


def tenant_secret(webhook_secret: str, tenant: str) -> str:
    """The secret `tenant`'s deliveries are signed with (`flask pdf token secret` prints it)."""
    message = f"pdfq-webhook-v1:{tenant}".encode()
    return hmac.new(webhook_secret.encode(), message, hashlib.sha256).hexdigest()


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The Pdfq-Signature header value for `body` sent at `timestamp`."""
    message = str(timestamp).encode() + b"." + body
    digest = hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify(secret: str, header: str, body: bytes, now: int, tolerance: int = 300) -> bool:
    """What a receiver does: the signature matches and the timestamp is recent."""
    fields = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    try:
        timestamp = int(fields["t"])
    except (KeyError, ValueError):
        return False
    expected = signature(secret, timestamp, body).split("v1=", 1)[1]
    fresh = abs(now - timestamp) <= tolerance
    return fresh and hmac.compare_digest(expected, fields.get("v1", ""))
