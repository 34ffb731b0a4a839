"""Redis as a queue needs: to answer (TLS with self-signed certificates included), a version
Huey works with, and `maxmemory-policy noeviction`, because an evicting Redis that fills up
deletes keys, and a deleted queue key is tasks lost without a word.

Reads go through INFO, which managed Redis (Heroku, Render) allows where CONFIG is disabled.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import redis

from core.adapters.redisconn import connection_pool, redacted, unreachable
from core.settings import Settings
from infra.report import CHANGED, FAILED, OK, PENDING, WARNING, Outcome

# Huey's Redis storage uses nothing newer than Redis 5 (ZPOPMIN for priorities); older
# servers are long out of support.
MIN_VERSION = (5, 0)
# With noeviction a full Redis refuses writes, so new uploads fail: warn well before that.
MEMORY_WARNING_RATIO = 0.8

UNTRUSTED_CERTIFICATE = (
    "its TLS certificate is not trusted (self-signed, as on Heroku Redis) and "
    "REDIS_SSL_VERIFY=true: set REDIS_SSL_VERIFY=false, or trust its CA"
)
EVICTION_FIX = (
    "Set it to noeviction: on Heroku `heroku redis:maxmemory <REDIS ADD-ON> --policy "
    "noeviction`; on Render `maxmemoryPolicy: noeviction` on the Key Value instance "
    "(render.yaml); on your own Redis `maxmemory-policy noeviction` in redis.conf."
)


def provision(settings: Settings, apply: bool) -> list[Outcome]:
    if not settings.redis_url:
        where = settings.data_dir / "queue.sqlite3"
        return [Outcome("queue", OK, f"embedded SQLite in {where} (no Redis URL set)")]
    subject = f"redis {redacted(settings.redis_url)}"
    client = redis.Redis(connection_pool=connection_pool(settings))
    try:
        try:
            server = client.info("server")
            memory = client.info("memory")
        except (redis.AuthenticationError, redis.AuthenticationWrongNumberOfArgsError) as exc:
            return [Outcome(subject, FAILED, _auth_problem(settings.redis_url, exc))]
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            if "CERTIFICATE_VERIFY_FAILED" in str(exc):
                return [Outcome(subject, FAILED, UNTRUSTED_CERTIFICATE)]
            raise unreachable(settings.redis_url, exc) from exc
        return [
            _version(subject, server),
            _eviction(subject, client, memory, apply),
            _memory(subject, memory),
        ]
    finally:
        client.close()
        client.connection_pool.disconnect()


def _auth_problem(url: str, exc: Exception) -> str:
    if urlsplit(url).password:
        return f"refused the password in the URL ({exc})"
    return f"asks for a password and the URL has none: redis://:<password>@host:port ({exc})"


def _version(subject: str, server: dict) -> Outcome:
    name, version = "Redis", str(server.get("redis_version", "0"))
    if "valkey_version" in server:  # Valkey (Render) reports a Redis version too
        name, version = "Valkey", str(server["valkey_version"])
    number = tuple(int(p) for p in str(server.get("redis_version", "0")).split(".")[:2])
    if number < MIN_VERSION:
        wanted = ".".join(map(str, MIN_VERSION))
        return Outcome(
            subject, FAILED, f"{name} {version} is older than {wanted}, which pdfq needs"
        )
    return Outcome(subject, OK, f"answers, {name} {version}")


def _eviction(subject: str, client: redis.Redis, memory: dict, apply: bool) -> Outcome:
    policy = str(memory.get("maxmemory_policy", "unknown"))
    if policy == "noeviction":
        return Outcome(subject, OK, "maxmemory-policy noeviction")
    change = f"maxmemory-policy {policy} -> noeviction"
    if not apply:
        return Outcome(subject, PENDING, f"would set {change}")
    try:
        client.config_set("maxmemory-policy", "noeviction")
    except redis.ResponseError as exc:  # managed Redis disables CONFIG
        return Outcome(
            subject,
            FAILED,
            f"maxmemory-policy is {policy}: a full Redis would evict keys, and queued "
            f"tasks with them. pdfq could not change it ({exc}). {EVICTION_FIX}",
        )
    return Outcome(
        subject,
        CHANGED,
        f"set {change} (CONFIG SET lasts until Redis restarts: put it in redis.conf too)",
    )


def _memory(subject: str, memory: dict) -> Outcome:
    used, limit = int(memory.get("used_memory", 0)), int(memory.get("maxmemory", 0))
    used_text = memory.get("used_memory_human", f"{used}B")
    if not limit:
        return Outcome(subject, OK, f"memory {used_text} used, no maxmemory limit")
    text = f"memory {used_text} used of {memory.get('maxmemory_human', limit)}"
    ratio = used / limit
    if ratio >= MEMORY_WARNING_RATIO:
        return Outcome(
            subject,
            WARNING,
            f"{text} ({ratio:.0%}): when it is full, Redis refuses new tasks "
            "(see docs/troubleshooting.md, 'memory too high')",
        )
    return Outcome(subject, OK, f"{text} ({ratio:.0%})")
