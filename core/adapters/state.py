"""Ephemeral state (leases, progress, counters, short-lived keys) behind one small interface.

Redis when a Redis URL is set, otherwise a SQLite file in the data folder, so no feature
silently needs Redis. core/keys.py names every key and its TTL.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import redis

from core.adapters.redisconn import connection_pool, out_of_memory, unreachable
from core.settings import Settings

# Compare and delete in one step: a GET then a DEL could delete a claim taken in between.
_DELETE_IF_EQUAL = (
    "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"
)


class RedisState:
    """State in Redis, under a prefix named after the queue."""

    def __init__(self, settings: Settings):
        self._url = settings.redis_url
        self._prefix = f"pdfq:{settings.queue_name}:"
        self._pool = connection_pool(settings)
        self._conn = redis.Redis(connection_pool=self._pool, decode_responses=False)

    def _run(self, fn):
        try:
            return fn(self._conn)
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            raise unreachable(self._url, exc) from exc
        except redis.exceptions.OutOfMemoryError as exc:
            raise out_of_memory(self._url, exc) from exc

    def get(self, key: str) -> str | None:
        value = self._run(lambda r: r.get(self._prefix + key))
        return None if value is None else value.decode()

    def set(self, key: str, value: str, ttl: int):
        self._run(lambda r: r.set(self._prefix + key, value, ex=ttl))

    def set_if_absent(self, key: str, value: str, ttl: int) -> bool:
        return bool(self._run(lambda r: r.set(self._prefix + key, value, ex=ttl, nx=True)))

    def incr(self, key: str, amount: int = 1) -> int:
        return int(self._run(lambda r: r.incrby(self._prefix + key, amount)))

    def delete(self, key: str):
        self._run(lambda r: r.delete(self._prefix + key))

    def delete_if_equal(self, key: str, value: str) -> bool:
        """Delete `key` only while it holds `value` (a holder frees only its own claim)."""
        return bool(self._run(lambda r: r.eval(_DELETE_IF_EQUAL, 1, self._prefix + key, value)))

    def get_many(self, keys: list[str]) -> dict[str, str | None]:
        """Several keys in one round trip (metrics read dozens per scrape)."""
        values = self._run(lambda r: r.mget([self._prefix + k for k in keys])) if keys else []
        return {k: None if v is None else v.decode() for k, v in zip(keys, values, strict=True)}

    def ping(self):
        self._run(lambda r: r.ping())

    def purge_expired(self):
        """Nothing to do: Redis drops expired keys itself."""


class SqliteState:
    """State in a SQLite file, shared by the web and worker processes of one machine."""

    _DDL = (
        "create table if not exists state ("
        "key text primary key, value text not null, expires_at real)"
    )

    def __init__(self, path: Path):
        self._path = path
        self._local = threading.local()

    @property
    def _db(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self._path, timeout=10, isolation_level=None)
            conn.execute("pragma journal_mode=wal")
            conn.execute(self._DDL)
            self._local.conn = conn
        return conn

    def get(self, key: str) -> str | None:
        row = self._db.execute(
            "select value from state where key = ? and (expires_at is null or expires_at > ?)",
            (key, time.time()),
        ).fetchone()
        return None if row is None else row[0]

    def set(self, key: str, value: str, ttl: int):
        self._db.execute(
            "insert or replace into state (key, value, expires_at) values (?, ?, ?)",
            (key, value, time.time() + ttl),
        )

    def set_if_absent(self, key: str, value: str, ttl: int) -> bool:
        now = time.time()
        db = self._db
        db.execute("begin immediate")
        try:
            db.execute("delete from state where key = ? and expires_at <= ?", (key, now))
            cursor = db.execute(
                "insert or ignore into state (key, value, expires_at) values (?, ?, ?)",
                (key, value, now + ttl),
            )
            db.execute("commit")
        except BaseException:
            db.execute("rollback")
            raise
        return cursor.rowcount == 1

    def incr(self, key: str, amount: int = 1) -> int:
        row = self._db.execute(
            "insert into state (key, value, expires_at) values (?, ?, null) "
            "on conflict (key) do update set value = cast(value as integer) + ? "
            "returning value",
            (key, str(amount), amount),
        ).fetchone()
        return int(row[0])

    def delete(self, key: str):
        self._db.execute("delete from state where key = ?", (key,))

    def delete_if_equal(self, key: str, value: str) -> bool:
        """Delete `key` only while it holds `value` (a holder frees only its own claim)."""
        cursor = self._db.execute(
            "delete from state where key = ? and value = ? and "
            "(expires_at is null or expires_at > ?)",
            (key, value, time.time()),
        )
        return cursor.rowcount == 1

    def get_many(self, keys: list[str]) -> dict[str, str | None]:
        found = dict.fromkeys(keys)
        marks = ",".join("?" * len(keys))
        rows = self._db.execute(
            f"select key, value from state where key in ({marks}) "  # noqa: S608 - only ?s
            "and (expires_at is null or expires_at > ?)",
            (*keys, time.time()),
        )
        found.update(rows.fetchall())
        return found

    def ping(self):
        self._db.execute("select 1").fetchone()

    def purge_expired(self):
        """Delete expired rows (reads already skip them); the periodic recovery pass calls it."""
        self._db.execute("delete from state where expires_at <= ?", (time.time(),))


State = RedisState | SqliteState


def make_state(settings: Settings) -> State:
    """Redis when configured, else the embedded SQLite file."""
    if settings.redis_url:
        return RedisState(settings)
    return SqliteState(settings.data_dir / "state.sqlite3")
