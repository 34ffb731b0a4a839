"""Fixtures: each test's own environment and Services, moto for S3, private servers.

Markers say what a test needs (pyproject.toml): `unit` (no server process; set on every test
that has none of the others), `integration` (a private redis-server or moto's S3 server),
`e2e` (the Procfile's processes), `browser` (Chromium against the stack). A test that uses a
server fixture without such a marker stops the collection, so the markers stay true.
"""

from __future__ import annotations

import logging

import pytest
from moto.core.base_backend import BackendDict
from moto.server import ThreadedMotoServer

from consumer import tasks
from core.services import Services, build
from core.settings import load_settings
from functions import create_app
from infra import local_s3
from tests.support import browser as chromium
from tests.support.servers import S3RVER_CREDENTIALS, RedisServer, S3rverServer, free_port

# Every test starts from this environment: nothing from the developer's own, an immediate
# queue (tasks run inside enqueue), fake AWS credentials for moto, an open server.
ENVIRONMENT = {
    "PDFQ_ENV_FILE": "",
    "HUEY_IMMEDIATE": "true",
    "S3_BUCKET": "pdfq-test",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "LOG_LEVEL": "warning",
    "PDFQ_ENV": "development",
}
CLEARED = ("HUEY_REDIS_URL", "REDIS_URL", "S3_ENDPOINT_URL", "S3_PUBLIC_ENDPOINT_URL")
# What a platform sets (core/settings.py derives defaults from them): never the test's.
CLEARED += ("CORS_ORIGINS", "RENDER_EXTERNAL_URL", "HEROKU_APP_DEFAULT_DOMAIN_NAME", "DYNO")
CLEARED += ("RENDER", "PROXY_HOPS", "WEB_CONCURRENCY", "GUNICORN_CMD_ARGS")
SERVER_MARKERS = ("integration", "e2e", "browser")


# Fixtures that start a server, and so may only serve tests marked for one.
SERVER_FIXTURES = {"redis_server", "moto_server", "s3rver_server", "s3_store", "browser"}


def pytest_collection_modifyitems(items):
    unmarked = []
    for item in items:
        if any(item.get_closest_marker(name) for name in SERVER_MARKERS):
            continue
        if SERVER_FIXTURES & set(getattr(item, "fixturenames", ())):
            unmarked.append(item.nodeid)
        item.add_marker(pytest.mark.unit)
    if unmarked:
        listed = "\n  ".join(unmarked)
        raise pytest.UsageError(f"these tests start servers but are not marked for it:\n  {listed}")


@pytest.fixture(scope="session", autouse=True)
def session_environment():
    """ENVIRONMENT for what the session builds before any test (module-scoped stacks)."""
    with pytest.MonkeyPatch.context() as patch:
        for name in CLEARED:
            patch.delenv(name, raising=False)
        for name, value in ENVIRONMENT.items():
            patch.setenv(name, value)
        yield


@pytest.fixture(autouse=True)
def environment(monkeypatch, tmp_path, request):
    """Each test's environment: ENVIRONMENT, its own data folder, and the values of an
    `@pytest.mark.env(NAME="value")` marker."""
    for name in CLEARED:
        monkeypatch.delenv(name, raising=False)
    for name, value in ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("PDFQ_DATA_DIR", str(tmp_path / "data"))
    for marker in reversed(list(request.node.iter_markers("env"))):
        for name, value in marker.kwargs.items():
            monkeypatch.setenv(name, value)


@pytest.fixture(scope="session")
def moto_thread() -> str:
    """moto's S3 as an HTTP server on a thread of this process, on a free port, started once
    for the session; yields its endpoint URL. Every request goes over loopback, through the
    same clients as in production (an in-process mock of botocore would miss pdfq's own)."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3(moto_thread, monkeypatch) -> str:
    """moto's S3 in this process, emptied for this test (no bucket yet), and the test's
    S3_ENDPOINT_URL pointing at it; its endpoint URL."""
    BackendDict.reset()
    monkeypatch.setenv("S3_ENDPOINT_URL", moto_thread)
    return moto_thread


def started(bucket: bool = True) -> Services:
    """Services from the current environment, with the worker's tasks and (in moto) the bucket."""
    runtime = build(load_settings())
    tasks.register(runtime)
    if bucket:
        runtime.storage.configure("create the test bucket", "create_bucket")
    return runtime


@pytest.fixture
def services(s3) -> Services:
    """The test's Services, on moto with the bucket created."""
    return started()


@pytest.fixture
def configure(monkeypatch, request):
    """configure(NAME="value", ...): change settings mid-test; the new Services (returned)
    take over the test's app too, if it has one."""

    def apply(**values: str) -> Services:
        for name, value in values.items():
            monkeypatch.setenv(name, value)
        runtime = started(bucket=False)
        if "app" in request.fixturenames:
            request.getfixturevalue("app").extensions["pdfq"] = runtime
        return runtime

    return apply


@pytest.fixture
def enqueued(services, monkeypatch) -> list[str]:
    """The source key of every job the lifecycle puts on the queue; its task still runs."""
    keys = []
    enqueue = services.lifecycle._enqueue

    def counted(job, eta=None):
        keys.append(job.source_key)
        return enqueue(job, eta)

    monkeypatch.setattr(services.lifecycle, "_enqueue", counted)
    return keys


@pytest.fixture
def held(services, monkeypatch) -> list[tuple]:
    """(job, eta) of every job the lifecycle puts on the queue, held there: no task runs."""
    jobs = []
    monkeypatch.setattr(
        services.lifecycle, "_enqueue", lambda job, eta=None: jobs.append((job, eta))
    )
    return jobs


@pytest.fixture
def app(services):
    return create_app({"TESTING": True}, services=services)


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


# --- private servers, shared by the session ---


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory):
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_server) -> str:
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


@pytest.fixture(scope="session")
def s3rver_server(tmp_path_factory):
    """s3rver (npm) as a real HTTP process, its objects on disk: a second S3 implementation,
    without conditional writes, lifecycle rules or notifications; restartable mid-test."""
    server = S3rverServer(tmp_path_factory.mktemp("s3rver"))
    yield server
    server.stop()


@pytest.fixture(scope="module", params=["moto", "s3rver"])
def s3_store(request) -> tuple[str, dict[str, str]]:
    """(endpoint, settings) of each S3 implementation the end-to-end subset runs against:
    pass both to Stack (its credentials included)."""
    if request.param == "moto":
        return request.getfixturevalue("moto_server"), {}
    server = request.getfixturevalue("s3rver_server")
    return server.url, dict(S3RVER_CREDENTIALS)


@pytest.fixture(scope="session")
def browser():
    with chromium.launched() as launched:
        yield launched


@pytest.fixture
def page(browser):
    with chromium.new_page(browser) as page:
        yield page
