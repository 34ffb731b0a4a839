import pytest
from huey import MemoryHuey, RedisHuey, SqliteHuey

from core.errors import QueueUnavailable
from core.queue import make_huey
from core.settings import load_settings
from core.state import RedisState
from tests.servers import RedisServer


def test_backend_follows_the_settings(tmp_path):
    assert isinstance(make_huey(load_settings({"HUEY_IMMEDIATE": "true"})), MemoryHuey)
    embedded = make_huey(load_settings({"PDFQ_DATA_DIR": str(tmp_path)}))
    assert isinstance(embedded, SqliteHuey)
    assert (tmp_path / "queue.sqlite3").exists()
    assert isinstance(make_huey(load_settings({"REDIS_URL": "redis://127.0.0.1:1"})), RedisHuey)


def test_queue_name_comes_from_the_settings(redis_url):
    queue = make_huey(load_settings({"HUEY_REDIS_URL": redis_url, "HUEY_QUEUE_NAME": "q1"}))
    assert queue.name == "q1"


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


def test_rediss_with_a_self_signed_certificate_works(tls_redis):
    settings = load_settings({"REDIS_URL": tls_redis.url})
    queue = make_huey(settings)

    @queue.task()
    def noop():
        return None

    noop()
    assert queue.pending_count() == 1
    RedisState(settings).ping()


def test_rediss_with_verification_on_refuses_a_self_signed_certificate(tls_redis):
    settings = load_settings({"REDIS_URL": tls_redis.url, "REDIS_SSL_VERIFY": "true"})
    with pytest.raises(QueueUnavailable) as info:
        RedisState(settings).ping()
    assert tls_redis.url in info.value.message
