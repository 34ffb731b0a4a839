"""The queue (core/adapters/queue.py): Huey's backend follows the settings, a Redis queue keeps
no results, and rediss:// works with a self-signed certificate unless verification is on."""

import datetime as dt
import time

import pytest
from huey import MemoryHuey, RedisHuey, SqliteHuey

from core.adapters.queue import EXTRACT_DOCUMENT, make_huey
from core.adapters.state import RedisState
from core.errors import QueueUnavailable
from core.settings import load_settings
from tests.support.servers import RedisServer

ETA = "2031-01-01T02:00:00.250Z"


@pytest.mark.parametrize("zone", ["UTC", "America/New_York", "Asia/Kolkata"])
def test_a_task_for_a_time_is_scheduled_to_the_millisecond_in_any_local_time_zone(
    services, monkeypatch, zone
):
    monkeypatch.setenv("TZ", zone)
    time.tzset()
    try:
        task = services.queue.task(EXTRACT_DOCUMENT, "sources/public/x.pdf", eta=ETA)
    finally:
        monkeypatch.undo()
        time.tzset()
    assert task.eta == dt.datetime(2031, 1, 1, 2, 0, 0, 250_000)  # Huey keeps naive UTC


def test_backend_follows_the_settings(tmp_path):
    assert isinstance(make_huey(load_settings({"HUEY_IMMEDIATE": "true"})), MemoryHuey)
    embedded = make_huey(load_settings({"PDFQ_DATA_DIR": str(tmp_path)}))
    assert isinstance(embedded, SqliteHuey)
    assert (tmp_path / "queue.sqlite3").exists()
    assert isinstance(make_huey(load_settings({"REDIS_URL": "redis://127.0.0.1:1"})), RedisHuey)


@pytest.mark.integration
def test_queue_name_comes_from_the_settings(redis_url):
    queue = make_huey(load_settings({"HUEY_REDIS_URL": redis_url, "HUEY_QUEUE_NAME": "q1"}))
    assert queue.name == "q1"


@pytest.mark.integration
def test_redis_queue_keeps_no_results(redis_url, redis_server):
    queue = make_huey(load_settings({"HUEY_REDIS_URL": redis_url}))

    @queue.task()
    def add(a, b):
        return a + b

    add(1, 2)
    assert queue.pending_count() == 1
    queue.execute(queue.dequeue())
    assert queue.pending_count() == 0
    # Results live in S3; nothing accumulates in Redis (no huey.results.* hash).
    assert redis_server.client.keys("huey.results.*") == []


@pytest.fixture(scope="module")
def tls_redis(tmp_path_factory):
    server = RedisServer(tmp_path_factory.mktemp("redis-tls"), tls=True)
    yield server
    server.stop()


@pytest.mark.integration
def test_rediss_with_a_self_signed_certificate_works(tls_redis):
    settings = load_settings({"REDIS_URL": tls_redis.url})
    queue = make_huey(settings)

    @queue.task()
    def noop():
        return None

    noop()
    assert queue.pending_count() == 1
    RedisState(settings).ping()


@pytest.mark.integration
def test_rediss_with_verification_on_refuses_a_self_signed_certificate(tls_redis):
    settings = load_settings({"REDIS_URL": tls_redis.url, "REDIS_SSL_VERIFY": "true"})
    with pytest.raises(QueueUnavailable) as info:
        RedisState(settings).ping()
    assert tls_redis.url in info.value.message
