"""Shared fixtures: an isolated environment, moto for S3, private redis-server and processes."""

from __future__ import annotations

import os
import tempfile

# Before any pdfq module reads its settings: immediate Huey, fake AWS, no .env, no Redis.
for _name in ("HUEY_REDIS_URL", "REDIS_URL", "S3_ENDPOINT_URL", "S3_PUBLIC_ENDPOINT_URL"):
    os.environ.pop(_name, None)
os.environ.update(
    PDFQ_ENV_FILE="",
    HUEY_IMMEDIATE="true",
    S3_BUCKET="pdfq-test",
    AWS_ACCESS_KEY_ID="testing",
    AWS_SECRET_ACCESS_KEY="testing",  # noqa: S105 - moto's fake credentials
    AWS_DEFAULT_REGION="us-east-1",
    PDFQ_DATA_DIR=tempfile.mkdtemp(prefix="pdfq-test-"),
    LOG_LEVEL="warning",
    # An open server (tenant "public") unless a test sets API_TOKENS; tests of production's
    # refusal set PDFQ_ENV=production themselves.
    PDFQ_ENV="development",
)

import pytest  # noqa: E402
from moto import mock_aws  # noqa: E402

from core import services  # noqa: E402
from core.queue import huey  # noqa: E402
from infra import local_s3  # noqa: E402
from tests.servers import RedisServer, free_port  # noqa: E402


@pytest.fixture(autouse=True)
def isolated(monkeypatch, tmp_path):
    """Each test gets its own data folder, fresh clients and an empty queue."""
    monkeypatch.setenv("PDFQ_DATA_DIR", str(tmp_path / "data"))
    services.reset()
    huey.flush()
    yield
    services.reset()


@pytest.fixture
def setenv(monkeypatch):
    """Change settings for one test: setenv(MAX_UPLOAD_BYTES="10")."""

    def apply(**values: str):
        for name, value in values.items():
            monkeypatch.setenv(name, value)
        services.reset()

    return apply


@pytest.fixture
def s3():
    """moto's in-process S3 with the bucket provisioned; yields the Storage."""
    with mock_aws():
        services.storage().ensure_bucket()
        yield services.storage()


@pytest.fixture
def app(s3):
    from functions import create_app

    return create_app({"TESTING": True})


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def pdf(app):
    """`flask pdf <args>` in-process: pdf("status", job_id) -> click's Result."""
    runner = app.test_cli_runner()

    def invoke(*args: str):
        return runner.invoke(args=["pdf", *args])

    return invoke


@pytest.fixture
def enqueued(monkeypatch):
    """Every source key handed to the queue (the task still runs: Huey is immediate here)."""
    from consumer import tasks

    calls = []
    original = tasks.enqueue_job

    def counting(job, eta=None):
        calls.append(job.source_key)
        return original(job, eta)

    monkeypatch.setattr(tasks, "enqueue_job", counting)
    return calls


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory):
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_server):
    """The private Redis, flushed before each test that uses it."""
    redis_server.client.flushall()
    return redis_server.url


@pytest.fixture(scope="session")
def moto_server():
    """moto's S3 server as a real HTTP process; yields its endpoint URL."""
    port = free_port()
    process = local_s3.start(port)
    yield f"http://127.0.0.1:{port}"
    process.terminate()
    process.wait(timeout=10)
