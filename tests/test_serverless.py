"""The upload functions as AWS Lambda handlers (functions/serverless.py, functions/events.py),
invoked with the events Lambda hands them: function URL and API Gateway HTTP API requests
(payload format 2.0), including a multipart upload whose binary PDF body is base64, and S3
ObjectCreated notifications. Behind them: moto's S3 server, a private redis-server and the
Procfile's huey_consumer, which finishes the jobs, as it would beside a Lambda deployment.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import time
import uuid
from urllib.parse import parse_qsl, quote

import pytest
import requests
from pdfminer.high_level import extract_text

from functions import events, serverless
from infra import local_s3
from infra.dev import procfile
from tests.support.api import ACME, GLOBEX, TWO_TENANTS, multipart
from tests.support.corpus import GOOD
from tests.support.servers import ROOT, Proc, child_env

pytestmark = pytest.mark.e2e

PDF = GOOD / "pdfminer_jo.pdf"
API = "/api/v1/pdf"
METRICS = "metrics-token-0123456789abcdefghij"
URL_HOST = "k3mrq2a7xv5hne4ulwd7ybqyoy0tnbcz.lambda-url.eu-west-1.on.aws"
API_HOST = "r2d2c3po4x.execute-api.eu-west-1.amazonaws.com"


@pytest.fixture(scope="module")
def deployment(redis_server, moto_server, tmp_path_factory) -> dict[str, str]:
    """The settings the template gives both functions, a provisioned bucket, and the worker
    running on the same Redis and bucket."""
    folder = tmp_path_factory.mktemp("lambda")
    settings = {
        "PDFQ_ENV": "production",
        "PDFQ_ENV_FILE": "",
        "PDFQ_DATA_DIR": str(folder / "data"),
        "HUEY_IMMEDIATE": "false",
        "HUEY_REDIS_URL": redis_server.url,
        "HUEY_QUEUE_NAME": f"q{uuid.uuid4().hex[:8]}",
        "S3_ENDPOINT_URL": moto_server,
        "S3_BUCKET": f"pdfq-{uuid.uuid4().hex[:12]}",
        "API_TOKENS": TWO_TENANTS,
        "METRICS_TOKEN": METRICS,
        "LOG_LEVEL": "warning",
        **local_s3.FAKE_CREDENTIALS,
    }
    env = child_env(**settings)
    provision = [sys.executable, "-m", "infra.provision"]
    subprocess.run(provision, env=env, cwd=ROOT, check=True, capture_output=True)
    worker = Proc("worker", ["sh", "-c", "exec " + procfile()["worker"]], env, folder)
    yield settings
    worker.stop()


@pytest.fixture
def container(deployment, monkeypatch):
    """A fresh Lambda container: the deployment's environment, nothing built yet."""
    for name, value in deployment.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("HUEY_IMMEDIATE")
    caches = (serverless.app, serverless._adapter, events._lambda_services)
    for cache in caches:
        cache.cache_clear()
    yield
    for cache in caches:
        cache.cache_clear()


def http_event(
    method: str,
    path: str,
    *,
    query: str = "",
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
    binary: bool = False,
    token: str | None = ACME,
    via: str = "url",
) -> dict:
    """A payload format 2.0 event as a function URL (`via="url"`) or an HTTP API's $default
    route (`via="api"`) delivers it: lower-case headers, the body base64 when binary."""
    host = URL_HOST if via == "url" else API_HOST
    sent = {
        "host": host,
        "user-agent": "pdfq-test",
        "x-amzn-trace-id": "Root=1-67890abc-0123456789abcdef01234567",
        "x-forwarded-for": "203.0.113.9",
        "x-forwarded-port": "443",
        "x-forwarded-proto": "https",
        **{name.lower(): value for name, value in (headers or {}).items()},
    }
    if token:
        sent["authorization"] = f"Bearer {token}"
    if body is not None:
        sent["content-length"] = str(len(body))
    now = time.time()
    event = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": query,
        "headers": sent,
        "requestContext": {
            "accountId": "anonymous" if via == "url" else "123456789012",
            "apiId": host.split(".")[0],
            "domainName": host,
            "domainPrefix": host.split(".")[0],
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.9",
                "userAgent": "pdfq-test",
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": "$default",
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        },
        "isBase64Encoded": binary,
    }
    if query:
        event["queryStringParameters"] = dict(parse_qsl(query))
    if body is not None:
        event["body"] = base64.b64encode(body).decode() if binary else body.decode()
    return event


def invoke(event: dict) -> tuple[int, dict, bytes]:
    """Run the HTTP handler as Lambda does, after a JSON round trip (what Lambda serializes)."""
    response = json.loads(json.dumps(serverless.handler(json.loads(json.dumps(event)), None)))
    body = response.get("body", "")
    raw = base64.b64decode(body) if response["isBase64Encoded"] else body.encode()
    return response["statusCode"], response["headers"], raw


def call(method: str, path: str, payload=None, **kwargs) -> tuple[int, dict, dict]:
    """A JSON request and its JSON answer."""
    body = None if payload is None else json.dumps(payload).encode()
    headers = {"content-type": "application/json"} if body is not None else {}
    status, sent, raw = invoke(http_event(method, API + path, body=body, headers=headers, **kwargs))
    return status, sent, json.loads(raw)


def s3_event(bucket: str, key: str, size: int) -> dict:
    """An S3 ObjectCreated:Put notification, as S3 invokes the events function with it."""
    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": "us-east-1",
                "eventTime": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
                "eventName": "ObjectCreated:Put",
                "userIdentity": {"principalId": "AWS:AROAEXAMPLE"},
                "requestParameters": {"sourceIPAddress": "203.0.113.9"},
                "responseElements": {"x-amz-request-id": "C3D13FE58DE4C810"},
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "configurationId": "SourceCreated",
                    "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"},
                    "object": {
                        "key": quote(key),
                        "size": size,
                        "eTag": "0123456789abcdef0123456789abcdef",
                        "sequencer": "0A1B2C3D4E5F678901",
                    },
                },
            }
        ]
    }


def finished(job_id: str, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        status, _, job = call("GET", f"/jobs/{job_id}")
        assert status == 200, job
        if job["status"] in ("succeeded", "failed", "canceled"):
            return job
        assert time.monotonic() < deadline, job
        time.sleep(0.2)


def test_health_metrics_the_page_and_the_security_headers_through_a_function_url(container):
    status, headers, raw = invoke(http_event("GET", API + "/health", token=None))
    assert status == 200, raw
    assert json.loads(raw)["status"] == "ok"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["cache-control"] == "no-store"
    status, headers, raw = invoke(http_event("GET", "/metrics", token=METRICS))
    assert status == 200, raw
    assert b"# TYPE" in raw
    status, headers, raw = invoke(http_event("GET", "/", token=None))
    assert status == 200
    assert headers["content-type"].startswith("text/html")
    assert b"<html" in raw.lower()


def test_tokens_are_checked_as_behind_gunicorn(container):
    status, headers, body = call("GET", "/me", token=None, via="api")
    assert status == 401
    assert body["error"]["code"] == "unauthorized"
    assert headers["www-authenticate"] == 'Bearer realm="pdfq"'
    assert call("GET", "/me", token=GLOBEX, via="api")[2]["tenant"] == "globex"


def test_production_without_tokens_says_so_in_the_log_and_to_callers(
    container, monkeypatch, caplog
):
    monkeypatch.delenv("API_TOKENS")
    status, _, body = call("GET", "/me", token=None)
    assert status == 503
    assert body["error"]["code"] == "auth_not_configured"
    assert "API_TOKENS is empty" in caplog.text
    assert invoke(http_event("GET", API + "/health", token=None))[0] == 200


def test_a_multipart_upload_with_a_binary_body_is_extracted_by_the_worker(container):
    body, content_type = multipart(PDF.read_bytes(), PDF.name, fields={"pages": "1"})
    assert b"\x00" in body or any(byte > 127 for byte in body)  # really binary
    event = http_event(
        "POST",
        API + "/documents",
        headers={"Content-Type": content_type},
        body=body,
        binary=True,
        via="api",
    )
    status, headers, raw = invoke(event)
    assert status == 202, raw
    job = json.loads(raw)
    assert headers["location"] == f"{API}/jobs/{job['id']}"
    assert job["filename"] == PDF.name
    assert job["size"] == PDF.stat().st_size
    assert job["options"] == {"pages": "1"}

    assert finished(job["id"])["status"] == "succeeded"
    status, headers, text = invoke(http_event("GET", f"{API}/jobs/{job['id']}/result"))
    assert status == 200
    assert headers["content-type"].startswith("text/plain")
    assert text.decode("utf-8") == extract_text(str(PDF))


def test_presign_put_and_the_s3_event_then_complete_answers_already_queued(container, deployment):
    size = PDF.stat().st_size
    status, _, created = call(
        "POST", "/uploads", {"filename": PDF.name, "content_type": "application/pdf", "size": size}
    )
    assert status == 201, created
    put = created["upload"]["put"]
    uploaded = requests.put(put["url"], data=PDF.read_bytes(), headers=put["headers"], timeout=30)
    assert uploaded.status_code == 200, uploaded.text

    key = f"sources/acme/{created['id']}.pdf"
    records = events.handler(s3_event(deployment["S3_BUCKET"], key, size), None)["records"]
    assert [(r["key"], r["outcome"], r["job_id"]) for r in records] == [
        (key, "queued", created["id"])
    ]
    status, _, job = call("POST", created["links"]["complete"].removeprefix(API))
    assert status == 200  # the event queued it; completing again queues nothing
    assert job["status"] in ("queued", "processing", "succeeded")

    assert finished(created["id"])["status"] == "succeeded"
    status, headers, raw = invoke(
        http_event("GET", f"{API}/jobs/{created['id']}/result", query="format=pages")
    )
    assert status == 200
    assert headers["content-type"].startswith("application/x-ndjson")
    pages = [json.loads(line) for line in raw.decode().splitlines()]
    assert [page["page"] for page in pages] == [1]
    assert pages[0]["text"] + "\f" == extract_text(str(PDF))  # a page, without its form feed


def test_complete_first_then_the_late_s3_event_is_a_duplicate(container, deployment):
    status, _, created = call(
        "POST",
        "/uploads",
        {"filename": "late.pdf", "content_type": "application/pdf", "size": PDF.stat().st_size},
        via="api",
    )
    assert status == 201
    put = created["upload"]["put"]
    assert requests.put(put["url"], data=PDF.read_bytes(), headers=put["headers"], timeout=30).ok
    status, _, job = call("POST", f"/uploads/{created['id']}/complete", via="api")
    assert status == 202, job
    key = f"sources/acme/{created['id']}.pdf"
    records = events.handler(s3_event(deployment["S3_BUCKET"], key, PDF.stat().st_size))
    assert records["records"][0]["outcome"] == "duplicate"
    assert finished(created["id"])["status"] == "succeeded"


def test_the_app_is_built_once_per_container(container, monkeypatch):
    built = []
    create_app = serverless.create_app
    monkeypatch.setattr(serverless, "create_app", lambda: built.append(1) or create_app())
    for _ in range(3):
        assert invoke(http_event("GET", API + "/health", token=None))[0] == 200
    assert built == [1]
