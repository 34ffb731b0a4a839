"""Ephemeral state (leases, live jobs, counters, sets of open jobs, short-lived keys) behind
one small interface.

Redis when a Redis URL is set, otherwise a SQLite file in the data folder, so no feature
silently needs Redis. core/keys.py names every key and its TTL.

Two kinds of value beyond plain strings: a versioned value (`put_newer`), whose first
VERSION_CHARS characters are a version compared as text, so that an older copy never
replaces a newer one whatever order two writers arrive in; and sets of members kept in text
order (`add`, `discard`, `members`, `count`), which hold job ids (newest first).
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
from pathlib import Path

import redis

from core.adapters.redisconn import connection_pool, out_of_memory, unreachable
from core.settings import Settings

VERSION_CHARS = 32  # the fixed-width version a versioned value starts with

# Set KEYS[1] to ARGV[1] (for ARGV[2] seconds) unless it holds a version at least as new.
_PUT_NEWER = """
local current = redis.call('GET', KEYS[1])
local width = tonumber(ARGV[3])
if current and string.sub(current, 1, width) >= string.sub(ARGV[1], 1, width) then
  return 0
end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
return 1
"""
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
        self._put_newer = self._conn.register_script(_PUT_NEWER)

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

    def incr_many(self, changes: dict[str, int]):
        """Several counters changed in one round trip."""
        if not changes:
            return

        def send(r):
            pipe = r.pipeline(transaction=False)
            for key, amount in changes.items():
                pipe.incrby(self._prefix + key, amount)
            pipe.execute()

        self._run(send)

    def delete(self, *keys: str):
        if keys:
            self._run(lambda r: r.delete(*(self._prefix + key for key in keys)))

    def delete_if_equal(self, key: str, value: str) -> bool:
        """Delete `key` only while it holds `value` (a holder frees only its own claim)."""
        return bool(self._run(lambda r: r.eval(_DELETE_IF_EQUAL, 1, self._prefix + key, value)))

    def get_many(self, keys: list[str]) -> dict[str, str | None]:
        """Several keys in one round trip (metrics read dozens per scrape)."""
        values = self._run(lambda r: r.mget([self._prefix + k for k in keys])) if keys else []
        return {k: None if v is None else v.decode() for k, v in zip(keys, values, strict=True)}

    def expire(self, key: str, ttl: int):
        self._run(lambda r: r.expire(self._prefix + key, ttl))

    def put_newer(self, key: str, value: str, ttl: int) -> bool:
        """Set a versioned value unless the one stored is as new or newer."""
        args = [value, ttl, VERSION_CHARS]
        return bool(self._run(lambda r: self._put_newer(keys=[self._prefix + key], args=args)))

    @contextlib.contextmanager
    def batch(self):
        """Writes sent together in one round trip when the block ends (not atomically)."""
        pipe = self._conn.pipeline(transaction=False)
        yield _RedisBatch(self, pipe)
        self._run(lambda r: pipe.execute())

    def add(self, name: str, *members: str):
        if members:
            self._run(lambda r: r.zadd(self._prefix + name, dict.fromkeys(members, 0)))

    def discard(self, name: str, *members: str):
        if members:
            self._run(lambda r: r.zrem(self._prefix + name, *members))

    def members(self, name: str, *, after: str | None = None, limit: int | None = None):
        """Members in text order, after `after`, at most `limit` of them."""
        low = f"({after}" if after is not None else "-"
        found = self._run(
            lambda r: r.zrange(
                self._prefix + name,
                low,
                "+",
                bylex=True,
                offset=0 if limit is not None else None,
                num=limit,
            )
        )
        return [member.decode() for member in found]

    def count(self, name: str) -> int:
        return int(self._run(lambda r: r.zcard(self._prefix + name)))

    def ping(self):
        self._run(lambda r: r.ping())

    def purge_expired(self):
        """Nothing to do: Redis drops expired keys itself."""


class _RedisBatch:
    """The writes of a RedisState.batch(), queued on its pipeline."""

    def __init__(self, state: RedisState, pipe):
        self._state, self._pipe, self._prefix = state, pipe, state._prefix

    def put_newer(self, key: str, value: str, ttl: int):
        # EVAL with the script's text: a pipeline running a Script object first asks the
        # server whether it knows it (one more round trip each time).
        self._pipe.eval(_PUT_NEWER, 1, self._prefix + key, value, ttl, VERSION_CHARS)

    def add(self, name: str, *members: str):
        if members:
            self._pipe.zadd(self._prefix + name, dict.fromkeys(members, 0))

    def discard(self, name: str, *members: str):
        if members:
            self._pipe.zrem(self._prefix + name, *members)

    def incr_many(self, changes: dict[str, int]):
        for key, amount in changes.items():
            self._pipe.incrby(self._prefix + key, amount)

    def set(self, key: str, value: str, ttl: int):
        self._pipe.set(self._prefix + key, value, ex=ttl)


_LOCK_WAIT = 10.0  # seconds a SQLite connection waits for another's lock


def _set_up(conn: sqlite3.Connection, ddl: tuple[str, ...]):
    """Put the file in WAL mode and create the tables, waiting out other processes doing the same.

    Processes that open a new file at once (the web's and the worker's at start-up) race to
    switch it to WAL; SQLite answers the loser "database is locked" at once, without its busy
    wait, because waiting could deadlock. So the setup is retried here.
    """
    deadline = time.monotonic() + _LOCK_WAIT
    pause = 0.005
    while True:
        try:
            conn.execute("pragma journal_mode=wal")
            for statement in ddl:
                conn.execute(statement)
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() + pause > deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, 0.2)


class SqliteState:
    """State in a SQLite file, shared by the web and worker processes of one machine."""

    _DDL = (
        "create table if not exists state ("
        "key text primary key, value text not null, expires_at real)",
        "create table if not exists members ("
        "name text not null, member text not null, primary key (name, member))",
    )

    def __init__(self, path: Path):
        self._path = path
        self._local = threading.local()

    @property
    def _db(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self._path, timeout=_LOCK_WAIT, isolation_level=None)
            _set_up(conn, self._DDL)
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

    def incr_many(self, changes: dict[str, int]):
        for key, amount in changes.items():
            self.incr(key, amount)

    def delete(self, *keys: str):
        self._db.executemany("delete from state where key = ?", [(key,) for key in keys])

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

    def expire(self, key: str, ttl: int):
        self._db.execute("update state set expires_at = ? where key = ?", (time.time() + ttl, key))

    @contextlib.contextmanager
    def batch(self):
        """Writes made one after another (a file on this machine: no round trips to save)."""
        yield self

    def put_newer(self, key: str, value: str, ttl: int) -> bool:
        """Set a versioned value unless the one stored is as new or newer."""
        now = time.time()
        db = self._db
        db.execute("begin immediate")
        try:
            row = db.execute(
                "select value from state where key = ? and (expires_at is null or expires_at > ?)",
                (key, now),
            ).fetchone()
            newer = row is None or row[0][:VERSION_CHARS] < value[:VERSION_CHARS]
            if newer:
                db.execute(
                    "insert or replace into state (key, value, expires_at) values (?, ?, ?)",
                    (key, value, now + ttl),
                )
            db.execute("commit")
        except BaseException:
            db.execute("rollback")
            raise
        return newer

    def add(self, name: str, *members: str):
        self._db.executemany(
            "insert or ignore into members (name, member) values (?, ?)",
            [(name, m) for m in members],
        )

    def discard(self, name: str, *members: str):
        self._db.executemany(
            "delete from members where name = ? and member = ?", [(name, m) for m in members]
        )

    def members(self, name: str, *, after: str | None = None, limit: int | None = None):
        """Members in text order, after `after`, at most `limit` of them."""
        rows = self._db.execute(
            "select member from members where name = ? and member > ? order by member limit ?",
            (name, after or "", -1 if limit is None else limit),
        )
        return [row[0] for row in rows]

    def count(self, name: str) -> int:
        return self._db.execute("select count(*) from members where name = ?", (name,)).fetchone()[
            0
        ]

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
