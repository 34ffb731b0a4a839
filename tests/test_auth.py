"""API tokens: parsing and hashing, the bearer check on every endpoint, open and closed modes."""

import hashlib
import subprocess

import pytest

from core import tokens
from core.settings import SettingsError, load_settings
from infra.dev import procfile
from tests.support.api import ACME, GLOBEX, TWO_TENANTS, bearer, post_pdf
from tests.support.corpus import GOOD
from tests.support.servers import ROOT, child_env, free_port

API = "/api/v1/pdf"
# Views anyone may call: health checks, the contract, the page, and the two endpoints that
# check their own secret (the S3 event webhook, /metrics and the operations view).
PUBLIC = {
    "ops.health",
    "liveness.live",
    "openapi.openapi_document",
    "page.index",
    "page.favicon",
    "static",
    "events.s3_webhook",
    "metrics.metrics_page",
    "ops.operations_view",
}


# A server with two tenants' tokens.
tokens_on = pytest.mark.env(API_TOKENS=TWO_TENANTS)


def protected_routes(app):
    """(method, path) of every view that needs a token, with a made-up job id filled in."""
    for rule in app.url_map.iter_rules():
        if rule.endpoint in PUBLIC:
            continue
        path = rule.rule.replace("<job_id>", "0" * 32).replace("<int:page>", "1")
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield method, path


# --- the setting ---


def test_api_tokens_keep_only_the_sha256_of_each_token():
    settings = load_settings({"API_TOKENS": f"acme:{ACME}, {tokens.entry('globex', GLOBEX)}"})
    assert settings.api_tokens == (
        ("acme", hashlib.sha256(ACME.encode()).hexdigest()),
        ("globex", hashlib.sha256(GLOBEX.encode()).hexdigest()),
    )
    assert ACME not in repr(settings)
    assert settings.auth_enabled


@pytest.mark.parametrize(
    ("raw", "complaint"),
    [
        ("acme", "must be sha256:<64 hex> or at least 24 characters"),
        ("acme:short", "must be sha256:<64 hex> or at least 24 characters"),
        (f"acme:{ACME[:-1]} x", "must be sha256:<64 hex> or at least 24 characters"),
        (f"Acme:{ACME}", "tenant 'Acme' must be 1-63 lowercase"),
        (f"public:{ACME}", "and not 'public'"),
        (f"../x:{ACME}", "tenant '../x' must be"),
        (f"acme:{ACME},globex:{ACME}", "the same token is listed twice"),
    ],
)
def test_a_bad_api_tokens_entry_names_the_problem_but_never_the_token(raw, complaint):
    with pytest.raises(SettingsError) as raised:
        load_settings({"API_TOKENS": raw})
    assert complaint in str(raised.value)
    assert "short" not in str(raised.value) and ACME[:-1] not in str(raised.value)


def test_a_new_token_is_long_random_and_recognisable():
    first, second = tokens.new_token(), tokens.new_token()
    assert first != second
    assert first.startswith("pdfq_") and len(first) >= 40
    table = load_settings({"API_TOKENS": tokens.entry("acme", first)}).api_tokens
    assert tokens.tenant_of(first, table) == "acme"
    assert tokens.tenant_of(second, table) is None


def test_tenant_of_finds_each_tenant_of_several():
    table = load_settings({"API_TOKENS": f"acme:{ACME},globex:{GLOBEX}"}).api_tokens
    assert tokens.tenant_of(ACME, table) == "acme"
    assert tokens.tenant_of(GLOBEX, table) == "globex"
    assert tokens.tenant_of(ACME + "x", table) is None


# --- the bearer check ---


@tokens_on
def test_every_endpoint_but_the_public_ones_needs_a_token(app, client):
    routes = list(protected_routes(app))
    assert len(routes) >= 10  # the jobs, uploads, control, queue and /me endpoints
    for method, path in routes:
        response = client.open(path, method=method)
        assert response.status_code == 401, (method, path, response.get_json())
        assert response.get_json()["error"]["code"] == "unauthorized", (method, path)
        assert response.headers["WWW-Authenticate"] == 'Bearer realm="pdfq"'


@tokens_on
def test_the_public_views_need_no_token(client):
    assert client.get(f"{API}/health").status_code == 200
    for path in ("/", "/static/upload.js", "/favicon.ico"):
        with client.get(path) as response:  # closes the static file it streams
            assert response.status_code == 200


@pytest.mark.parametrize(
    "header",
    [
        "Basic YWNtZTpwYXNzd29yZA==",
        "Bearer",
        "Bearer ",
        f"Bearer {ACME} extra",
        f"Token {ACME}",
        "Bearer tok\u00e9n-with-latin1-0123456789",
        f"Bearer {ACME}x",  # unknown
        f"Bearer {ACME[:-1]}",  # unknown
        f"Bearer {tokens.digest(ACME)}",  # the stored hash is not the token
    ],
)
@tokens_on
def test_a_malformed_or_unknown_token_is_refused(client, header):
    response = client.get(f"{API}/me", headers={"Authorization": header.encode("latin-1")})
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "invalid_token"
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="pdfq", error="invalid_token"'


@tokens_on
def test_a_known_token_names_its_tenant_whatever_the_scheme_case(client):
    assert client.get(f"{API}/me", headers=bearer(ACME)).get_json()["tenant"] == "acme"
    lower = {"Authorization": f"bearer {GLOBEX}"}
    assert client.get(f"{API}/me", headers=lower).get_json()["tenant"] == "globex"


@tokens_on
def test_an_authenticated_upload_belongs_to_the_tokens_tenant(client, services):
    response = post_pdf(client, (GOOD / "pdfminer_jo.pdf").read_bytes(), headers=bearer(ACME))
    assert response.status_code == 202, response.get_json()
    job_id = response.get_json()["id"]
    assert list(services.storage.list_keys(f"sources/acme/{job_id}"))
    assert not list(services.storage.list_keys("sources/public/"))


@tokens_on
def test_me_reports_the_tenant_and_its_limit(client, configure):
    body = client.get(f"{API}/me", headers=bearer(ACME)).get_json()
    assert body == {"tenant": "acme", "auth": True, "jobs_in_flight": 0, "max_jobs_in_flight": 100}
    configure(TENANT_MAX_JOBS_IN_FLIGHT="0")
    assert client.get(f"{API}/me", headers=bearer(ACME)).get_json()["max_jobs_in_flight"] is None


# --- open (development) and closed (production) servers without tokens ---


def test_development_without_tokens_serves_the_public_tenant(client):
    body = client.get(f"{API}/me").get_json()
    assert body["tenant"] == "public" and body["auth"] is False


@pytest.mark.parametrize(
    "host", ["evil.example", "evil.example:8000", "127.0.0.1.nip.io:8000", "192.168.1.5:8000"]
)
def test_an_open_server_answers_only_to_its_loopback_names(client, host):
    """DNS rebinding: a page at evil.example whose name now resolves to 127.0.0.1 sends
    `Host: evil.example`; an open server must not answer it, the page included."""
    for path in (f"{API}/jobs", f"{API}/me", "/", f"{API}/health"):
        response = client.get(path, headers={"Host": host})
        assert response.status_code == 421, (path, response.status_code)
        assert response.get_json()["error"]["code"] == "host_not_allowed"
        assert "API_TOKENS" in response.get_json()["error"]["message"]
    for allowed in ("localhost", "localhost:8000", "127.0.0.1:8011", "[::1]:8000", "[::1]"):
        assert client.get(f"{API}/me", headers={"Host": allowed}).status_code == 200, allowed


@tokens_on
def test_a_server_with_tokens_answers_to_any_name(client):
    response = client.get(f"{API}/me", headers={"Host": "pdfq.example.com", **bearer(ACME)})
    assert response.status_code == 200


@pytest.mark.env(PDFQ_ENV="production")
def test_production_without_tokens_refuses_every_api_request_but_health(app, client):
    for method, path in protected_routes(app):
        response = client.open(path, method=method)
        assert response.status_code == 503, (method, path)
        assert response.get_json()["error"]["code"] == "auth_not_configured"
    assert client.get(f"{API}/health").status_code == 200


@tokens_on
def test_metrics_needs_its_own_token_once_tenants_exist(client, configure):
    response = client.get("/metrics", headers=bearer(ACME))
    assert response.status_code == 401
    assert "METRICS_TOKEN" in response.get_json()["error"]["message"]
    configure(METRICS_TOKEN="metrics-token-0123456789abc")
    assert client.get("/metrics", headers=bearer("metrics-token-0123456789abc")).status_code == 200


@tokens_on
def test_the_operations_view_needs_the_metrics_token_not_a_tenants(client, configure):
    response = client.get(f"{API}/ops", headers=bearer(ACME))
    assert response.status_code == 401
    assert "METRICS_TOKEN" in response.get_json()["error"]["message"]
    configure(METRICS_TOKEN="metrics-token-0123456789abc")
    assert client.get(f"{API}/ops", headers=bearer(ACME)).status_code == 401
    answer = client.get(f"{API}/ops", headers=bearer("metrics-token-0123456789abc"))
    assert answer.status_code == 200
    assert answer.get_json()["checks"]["storage"]["ok"] is True


def _gunicorn(**settings: str) -> subprocess.Popen:
    env = child_env(PDFQ_ENV_FILE="", PORT=str(free_port()), WEB_CONCURRENCY="1")
    env.pop("PDFQ_ENV", None)  # the default, production, unless `settings` name one
    env.update(settings)
    return subprocess.Popen(
        ["sh", "-c", "exec " + procfile()["web"]],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.e2e
def test_gunicorn_refuses_to_start_in_production_without_tokens():
    process = _gunicorn()
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 2, stderr
    assert "pdfq: bad configuration: PDFQ_ENV=production and API_TOKENS is empty" in stderr
    assert "flask --app functions pdf token new <tenant>" in stderr


@pytest.mark.e2e
def test_gunicorn_in_development_without_tokens_warns_loudly():
    process = _gunicorn(PDFQ_ENV="development")
    try:
        with pytest.raises(subprocess.TimeoutExpired):
            process.communicate(timeout=3)  # still serving
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=30)
    assert "pdfq: AUTH IS OFF" in stderr
