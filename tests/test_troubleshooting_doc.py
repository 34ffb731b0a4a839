"""docs/troubleshooting.md quotes the messages pdfq really prints (addresses aside)."""

import subprocess

import pytest

from core import ocr_support
from core.adapters.state import RedisState
from core.errors import BadRequest
from core.jobs import options
from core.settings import SettingsError, load_settings
from functions import limits
from functions.auth import startup_check
from infra import ocr_check, redis_check
from infra.dev import procfile
from tests.support.api import post_pdf
from tests.support.servers import ROOT, RedisServer, child_env, free_port

DOC_REDIS = "redis://127.0.0.1:6379/0"


@pytest.fixture(scope="module")
def doc():
    return (ROOT / "docs" / "troubleshooting.md").read_text()


def test_redis_down_message(doc):
    url = f"redis://127.0.0.1:{free_port()}/0"
    with pytest.raises(Exception) as info:
        RedisState(load_settings({"HUEY_REDIS_URL": url})).ping()
    assert info.value.message.replace(url, DOC_REDIS) in doc


def test_bad_configuration_message(doc):
    with pytest.raises(SettingsError) as info:
        load_settings({"TASK_RETRIES": "x"})
    # The doc wraps the line: compare with single spaces.
    assert f"pdfq: bad configuration: {info.value}" in " ".join(doc.split())


def test_a_bad_worker_count_stops_the_worker_with_hueys_own_message(doc):
    """The Procfile hands HUEY_WORKERS to huey_consumer, which refuses it before pdfq starts."""
    command = f"exec {procfile()['worker']}"
    result = subprocess.run(
        ["sh", "-c", command],
        env=child_env(HUEY_WORKERS="many", PDFQ_ENV_FILE=""),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    message = result.stderr.strip().splitlines()[-1]
    assert message == "huey_consumer: error: option --workers: invalid integer value: 'many'"
    assert message in doc


@pytest.mark.integration
def test_full_redis_message(doc, client, configure, tmp_path, caplog):
    server = RedisServer(tmp_path)
    try:
        used = int(server.client.info("memory")["used_memory"])
        server.client.config_set("maxmemory", str(used // 2))
        services = configure(HUEY_REDIS_URL=server.url)
        response = post_pdf(client, b"%PDF-1.4\n%%EOF\n")
        memory = redis_check.provision(services.settings, apply=False)[-1]
    finally:
        server.stop()
    assert response.status_code == 503
    assert response.get_json()["error"]["message"] in doc
    logged = [r.getMessage() for r in caplog.records if r.name == "pdfq.web"]
    assert logged[-1].replace(server.url, "redis://127.0.0.1:6380/0") in doc
    # The warning's numbers differ; its wording is the doc's.
    assert memory.detail.split(": ", 1)[1] in doc


@pytest.mark.integration
def test_evicting_managed_redis_message(doc, tmp_path):
    no_config = ("--rename-command", "CONFIG", "")
    server = RedisServer(tmp_path, extra_args=("--maxmemory-policy", "allkeys-lru", *no_config))
    try:
        settings = load_settings({"HUEY_REDIS_URL": server.url})
        eviction = redis_check.provision(settings, apply=True)[1]
    finally:
        server.stop()
    assert eviction.line().replace(server.url, "redis://127.0.0.1:6380/0") in doc


def test_password_and_certificate_messages(doc):
    assert "asks for a password and the URL has none: redis://:<password>@host:port" in doc
    assert redis_check.UNTRUSTED_CERTIFICATE in doc


def test_auth_and_limit_messages(doc, client, configure, monkeypatch):
    services = configure(PDFQ_ENV="production")
    problem, _ = startup_check(services.settings)
    assert problem in doc

    configure(API_TOKENS="acme:token-0123456789abcdefghijklmn")
    for header in (None, "Bearer " + "x" * 30, "Basic x"):
        headers = {"Authorization": header} if header else {}
        assert client.get("/api/v1/pdf/me", headers=headers).get_json()["error"]["message"] in doc

    # The limits' messages at their default settings (the counts are made up, the words real).
    for queue_max_pending in ("10000", "0"):  # the queue's message, then the tenant's
        services = configure(QUEUE_MAX_PENDING=queue_max_pending)
        monkeypatch.setattr(services.records, "in_flight", lambda tenant, up_to=None: 100)
        monkeypatch.setattr(services.huey, "pending_count", lambda: 10000)
        with pytest.raises(Exception) as info:
            limits.check_capacity(services, "acme")
        assert info.value.message in doc


def test_ocr_missing_messages(doc, monkeypatch):
    settings = load_settings({}, dotenv=False)
    [missing_language] = ocr_check.provision(
        load_settings({"OCR_LANGUAGES": "eng+fra"}, dotenv=False), apply=False
    )
    assert missing_language.line() in doc
    monkeypatch.setattr(ocr_support, "languages", lambda configured="": ())
    [found] = ocr_check.provision(settings, apply=False)
    assert found.line() in doc
    with pytest.raises(BadRequest) as info:
        options.require_ocr(settings, "Field 'ocr': auto")
    assert info.value.message in doc


def test_too_many_pages_and_step_timeout_messages(doc, tmp_path):
    from consumer import sandbox
    from core.errors import TooManyPages
    from tests.support import hostile

    path = tmp_path / "six.pdf"
    path.write_bytes(hostile.long_text(pages=6, lines=1))
    with pytest.raises(TooManyPages) as info:
        sandbox.extract(path, engine="pdfium", caps=sandbox.Caps(pages=5), timeout=60, memory_mb=0)
    assert f"too_many_pages: {info.value.message}".replace("5 pages", "3000 pages") in doc
    limits = sandbox._Limits(300, 120, 120, 0, 0)
    limits.start(counted=True)
    assert f"timeout: {limits._step_message()}" in doc
    limits.stepped()
    assert f"timeout: {limits._step_message()}" in doc
