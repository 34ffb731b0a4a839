"""Redis connection pools from a URL, including Heroku's self-signed `rediss://`."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

import redis

from core.errors import QueueUnavailable
from core.settings import Settings


def redacted(url: str) -> str:
    """The URL with any password replaced, safe for messages and logs."""
    parts = urlsplit(url)
    if parts.password:
        netloc = f"{parts.username or ''}:***@{parts.hostname}"
        if parts.port:
            netloc += f":{parts.port}"
        parts = parts._replace(netloc=netloc)
    return urlunsplit(parts)


def connection_pool(settings: Settings) -> redis.ConnectionPool:
    """A pool for settings.redis_url; creating it opens no connection."""
    options: dict = {"socket_connect_timeout": 5, "health_check_interval": 30}
    if settings.redis_url.startswith("rediss://") and not settings.redis_ssl_verify:
        # Heroku Redis and others present self-signed certificates.
        options["ssl_cert_reqs"] = None
    return redis.ConnectionPool.from_url(settings.redis_url, **options)


def unreachable(url: str, exc: Exception) -> QueueUnavailable:
    return QueueUnavailable(
        f"Redis unreachable at {redacted(url)} ({type(exc).__name__}): is redis-server running "
        "and is HUEY_REDIS_URL (or REDIS_URL) right?"
    )


def out_of_memory(url: str, exc: Exception) -> QueueUnavailable:
    # With maxmemory-policy noeviction (which a queue needs) a full Redis refuses writes.
    # Redis's words, without the script a refused write ran in (pdfq's own, named by hash).
    reason = str(exc).rpartition("caused error: ")[2]  # a pipeline names its command first
    reason = reason.split(" script:", 1)[0].rstrip(",")
    return QueueUnavailable(
        f"Redis at {redacted(url)} is full and refuses writes ({reason}): raise its maxmemory "
        "or free memory; see docs/troubleshooting.md, 'memory too high'."
    )
