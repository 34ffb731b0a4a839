"""Security headers (functions/headers.py): the upload page's CSP admits its own origin and the
storage origin it uploads to, nothing else; every response refuses framing and sniffing."""

from urllib.parse import urlsplit

import pytest
from flask import request

from functions.headers import page_policy, storage_origin
from tests.support.api import presign, upload
from tests.support.corpus import GOOD

JO = GOOD / "pdfminer_jo.pdf"


def directives(header: str) -> dict[str, list[str]]:
    found = {}
    for part in header.split(";"):
        name, *values = part.split()
        found[name] = values
    return found


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


@pytest.mark.parametrize("path", ["/", "/static/upload.js", "/static/upload.css"])
def test_the_page_may_reach_only_itself_and_the_storage_origin_it_uploads_to(client, s3, path):
    with client.get(path) as response:
        assert response.status_code == 200
        policy = directives(response.headers["Content-Security-Policy"])
    assert policy["default-src"] == ["'none'"]
    assert policy["script-src"] == policy["style-src"] == ["'self'"]  # no inline code at all
    # The same origin a presigned POST names (the test's moto, on loopback).
    assert policy["connect-src"] == ["'self'", s3]
    assert policy["img-src"] == ["'self'", "blob:"]  # the viewer's page images, nothing else
    presigned = presign(client)["upload"]["post"]["url"]
    assert origin(presigned) in policy["connect-src"]
    for locked in ("form-action", "base-uri", "frame-ancestors"):
        assert policy[locked] == ["'none'"]


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ({"S3_ENDPOINT_URL": ""}, "https://pdfq-test.s3.amazonaws.com"),  # AWS's bucket host
        ({"S3_ENDPOINT_URL": "http://127.0.0.1:9000"}, "http://127.0.0.1:9000"),
        (
            {
                "S3_ENDPOINT_URL": "http://minio:9000",
                "S3_PUBLIC_ENDPOINT_URL": "https://files.example.com/s3",
            },
            "https://files.example.com",
        ),
    ],
)
def test_the_storage_origin_follows_the_endpoint_browsers_are_given(
    app, configure, settings, expected
):
    # Set after the app's Services are built (they create the test bucket, in moto, at the
    # default endpoint); signing is local: no server needs to answer at these endpoints.
    configure(**settings)
    with app.app_context():
        assert storage_origin() == expected
        assert f"connect-src 'self' {expected};" in page_policy(storage_origin())


@pytest.mark.env(S3_PUBLIC_ENDPOINT_URL="https://files.example.com:8443/x")
def test_a_page_that_cannot_sign_still_loads_with_the_origin_from_the_settings(
    app, services, monkeypatch
):
    def no_credentials(*args, **kwargs):
        raise AttributeError("'NoneType' object has no attribute 'access_key'")  # as botocore

    monkeypatch.setattr(services.storage, "presign_post", no_credentials)
    with app.app_context():
        assert storage_origin() == "https://files.example.com:8443"


def test_every_response_refuses_framing_sniffing_and_referrers(client):
    job = upload(client, JO)
    responses = [
        client.get("/"),
        client.get("/static/upload.js"),
        client.get("/api/v1/pdf/health"),
        client.get(f"/api/v1/pdf/jobs/{job['id']}"),
        client.get(f"/api/v1/pdf/jobs/{job['id']}/result"),
        client.get("/api/v1/pdf/jobs/" + "0" * 32),  # an error answer
        client.get("/no/such/page"),
        client.get("/metrics"),
    ]
    for response in responses:
        with response:
            assert response.headers["X-Content-Type-Options"] == "nosniff"
            assert response.headers["Referrer-Policy"] == "no-referrer"
            assert response.headers["X-Frame-Options"] == "DENY"
            assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]


def test_api_answers_with_job_data_are_never_cached(client):
    job = upload(client, JO)
    for path in ("", "/result", "/result?format=json", "/result/link"):
        with client.get(f"/api/v1/pdf/jobs/{job['id']}{path}") as response:
            assert response.status_code == 200
            assert response.headers["Cache-Control"] == "no-store"
    with client.get("/api/v1/pdf/jobs/" + "0" * 32) as missing:
        assert missing.headers["Cache-Control"] == "no-store"
    with client.get("/") as page:  # the page keeps its own rule: revalidate, then reuse
        assert page.headers["Cache-Control"] == "no-cache"


def test_api_answers_run_nothing_even_opened_in_a_browser(client):
    with client.get("/api/v1/pdf/health") as response:
        policy = directives(response.headers["Content-Security-Policy"])
    assert policy["default-src"] == ["'none'"] and "sandbox" in policy


# --- the platform's router: X-Forwarded-For/-Proto believed by hop count (PROXY_HOPS) ---


def _client_seen(app) -> dict:
    @app.get("/test/client")
    def client_seen():
        return {"addr": request.remote_addr, "scheme": request.scheme}

    forwarded = {"X-Forwarded-For": "6.6.6.6, 203.0.113.9", "X-Forwarded-Proto": "https"}
    return app.test_client().get("/test/client", headers=forwarded).get_json()


@pytest.mark.env(PROXY_HOPS="1")
def test_behind_one_router_the_client_is_the_address_the_router_appended(app):
    # 6.6.6.6 is what the client claimed; the router appended the address it saw.
    assert _client_seen(app) == {"addr": "203.0.113.9", "scheme": "https"}


def test_with_no_trusted_proxy_forwarded_headers_are_ignored(app):
    assert _client_seen(app) == {"addr": "127.0.0.1", "scheme": "http"}
