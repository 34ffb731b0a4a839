"""Webhook rules shared by the web (checks a callback URL) and the worker (signs, re-checks).

Signature: header `Pdfq-Signature: t=<unix seconds>,v1=<hex>` where
hex = HMAC-SHA256(<the tenant's signing secret>, "<t>." + raw body). docs/api.md shows how to
verify it. Each tenant has its own signing secret, derived from WEBHOOK_SECRET, so one tenant
cannot forge a delivery to another's receiver; the open development tenant uses WEBHOOK_SECRET.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import socket
from urllib.parse import urlsplit

from core.errors import BadRequest
from core.keys import DEFAULT_TENANT
from core.settings import Settings

SIGNATURE_HEADER = "Pdfq-Signature"
# The events a job calls back with: the end of each run, good or bad.
EVENTS = {"succeeded": "job.succeeded", "failed": "job.failed"}
MAX_URL_CHARS = 2000


def check_url(url, settings: Settings) -> str:
    """The callback URL if pdfq may call it; 400 naming `callback_url` otherwise."""
    if not settings.webhook_secret:
        raise BadRequest(
            "Field 'callback_url' cannot be accepted: this deployment has no WEBHOOK_SECRET "
            "to sign deliveries with."
        )
    if not isinstance(url, str) or len(url) > MAX_URL_CHARS:
        raise BadRequest("Field 'callback_url' must be an http(s) URL.")
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BadRequest("Field 'callback_url' must be an http(s) URL with a host.")
    if parts.username or parts.password:
        raise BadRequest("Field 'callback_url' must not carry credentials.")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        addresses = {info[4][0] for info in socket.getaddrinfo(parts.hostname, port)}
    except (OSError, ValueError):
        raise BadRequest(f"Field 'callback_url': cannot resolve {parts.hostname!r}.") from None
    if not settings.webhook_allow_private:
        for address in addresses:
            if not public_address(address):
                raise BadRequest(
                    f"Field 'callback_url': {parts.hostname} resolves to {address}, a private, "
                    "loopback or link-local address (WEBHOOK_ALLOW_PRIVATE allows them)."
                )
    return url.strip()


def public_address(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return not (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
    )


def tenant_secret(webhook_secret: str, tenant: str) -> str:
    """The secret `tenant`'s deliveries are signed with (`flask pdf token secret` prints it)."""
    if tenant == DEFAULT_TENANT:
        return webhook_secret
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
