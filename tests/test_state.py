"""The state store (core/adapters/state.py): the same small interface on the embedded SQLite
file and on Redis, and a Redis outage message that names the URL without its password."""

import datetime as dt
import multiprocessing
import sqlite3
import time

import pytest

from core.adapters.state import RedisState, SqliteState
from core.settings import load_settings


@pytest.fixture(params=["sqlite", pytest.param("redis", marks=pytest.mark.integration)])
def state(request, tmp_path):
    if request.param == "sqlite":
        return SqliteState(tmp_path / "state.sqlite3")
    url = request.getfixturevalue("redis_url")
    return RedisState(load_settings({"HUEY_REDIS_URL": url}))


def test_set_and_get(state):
    assert state.get("k") is None
    state.set("k", "v", ttl=60)
    assert state.get("k") == "v"
    state.delete("k")
    assert state.get("k") is None


def test_set_if_absent_wins_once(state):
    assert state.set_if_absent("lock", "a", ttl=60) is True
    assert state.set_if_absent("lock", "b", ttl=60) is False
    assert state.get("lock") == "a"


def test_a_claim_is_deleted_only_by_its_holder(state):
    state.set("slot", "mine", ttl=60)
    assert state.delete_if_equal("slot", "theirs") is False
    assert state.get("slot") == "mine"
    assert state.delete_if_equal("slot", "mine") is True
    assert state.get("slot") is None
    assert state.delete_if_equal("slot", "mine") is False


def test_values_expire(state):
    state.set("short", "v", ttl=1)
    assert state.set_if_absent("short-lock", "a", ttl=1)
    time.sleep(1.2)
    assert state.get("short") is None
    assert state.set_if_absent("short-lock", "b", ttl=60) is True


def test_incr_counts_up_and_down(state):
    assert state.incr("n") == 1
    assert state.incr("n", 5) == 6
    assert state.incr("n", -2) == 4
    assert state.get("n") == "4"


def test_sqlite_state_is_shared_between_connections(tmp_path):
    one, two = SqliteState(tmp_path / "s.db"), SqliteState(tmp_path / "s.db")
    one.set("k", "v", ttl=60)
    assert two.get("k") == "v"


def _open_at_once(path, barrier, errors):
    barrier.wait()
    try:
        SqliteState(path).get("k")
    except sqlite3.OperationalError as error:
        errors.put(str(error))


def test_processes_opening_a_new_sqlite_file_at_once_all_get_it(tmp_path):
    # The web's and the worker's processes start together and race to switch a new file to
    # WAL; SQLite tells the losers "database is locked" without waiting.
    fork = multiprocessing.get_context("fork")
    errors = fork.Queue()
    for round_ in range(40):
        barrier = fork.Barrier(6)
        path = tmp_path / f"{round_}.db"
        openers = [
            fork.Process(target=_open_at_once, args=(path, barrier, errors)) for _ in range(6)
        ]
        for opener in openers:
            opener.start()
        for opener in openers:
            opener.join()
    assert errors.empty(), errors.get()


def test_redis_down_names_the_url_and_the_fix():
    state = RedisState(load_settings({"HUEY_REDIS_URL": "redis://:secret@127.0.0.1:1/0"}))
    with pytest.raises(Exception) as info:
        state.ping()
    message = str(info.value)
    assert "redis://:***@127.0.0.1:1/0" in message
    assert "is redis-server running" in message
    assert "secret" not in message


def test_the_worker_purges_expired_rows_of_the_embedded_store(services):
    # Every periodic task the worker registers (the recovery pass purges), run as the consumer
    # would at a round hour.
    services.state.set("short-lived", "x", ttl=1)
    services.state.set("long-lived", "y", ttl=3600)
    time.sleep(1.1)
    huey = services.huey
    due = dt.datetime(2030, 1, 1, 0, 0)
    for task in huey.read_periodic(due):
        huey.execute(task, due)
    with sqlite3.connect(services.settings.data_dir / "state.sqlite3") as db:
        rows = {key for (key,) in db.execute("select key from state")}
    assert "short-lived" not in rows and "long-lived" in rows
