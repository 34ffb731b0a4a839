"""Security headers: a Content-Security-Policy for the upload page, and headers every response
carries so that nothing pdfq serves can be framed, sniffed into HTML or leak its URL.

The page talks to two origins only: its own (the API) and storage, where the browser sends
each PDF through a presigned POST. The storage origin is read from a POST signed exactly as
the upload views sign theirs (signing is local: no request is made), so it is right for AWS's
bucket hosts, S3_ENDPOINT_URL and S3_PUBLIC_ENDPOINT_URL alike.
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from flask import Flask, request
from werkzeug.middleware.proxy_fix import ProxyFix

from functions.context import services

log = logging.getLogger("pdfq.web")

EVERY_RESPONSE = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",  # URLs may carry job ids or presigned signatures
    "X-Frame-Options": "DENY",  # for browsers without CSP frame-ancestors
}
# JSON and text results are never meant to run anything, even opened in a browser tab.
API_POLICY = "default-src 'none'; frame-ancestors 'none'; sandbox"


def page_policy(storage_origin: str) -> str:
    """The upload page's policy: its own scripts and styles, the API and storage, no more."""
    return "; ".join(
        (
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            # blob: the viewer's page images, fetched with the token and shown as blob URLs.
            "img-src 'self' blob:",
            f"connect-src 'self' {storage_origin}",
            "form-action 'none'",
            "base-uri 'none'",
            "frame-ancestors 'none'",
        )
    )


def storage_origin() -> str:
    """scheme://host[:port] that browsers upload to, as the presigned POST names it."""
    storage = services().storage
    try:
        url = storage.presign_post("sources/csp", fields={}, conditions=[], expires=60)["url"]
    except Exception as exc:  # noqa: BLE001 - e.g. no credentials (botocore: AttributeError)
        # Uploads fail anyway then; the page must still load and say why.
        settings = services().settings
        url = settings.s3_public_endpoint_url or settings.s3_endpoint_url
        url = url or f"https://{storage.bucket}.s3.amazonaws.com/"
        log.warning("upload page CSP: storage origin from settings (%s)", type(exc).__name__)
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def register(app: Flask, api_prefix: str):
    static = app.static_url_path + "/"

    @app.after_request
    def _secure(response):
        for name, value in EVERY_RESPONSE.items():
            response.headers.setdefault(name, value)
        if request.path == "/" or request.path.startswith(static):
            response.headers["Content-Security-Policy"] = page_policy(storage_origin())
        else:
            response.headers.setdefault("Content-Security-Policy", API_POLICY)
        # Job data (status, filenames, results, upload URLs) is for this caller alone.
        if request.path.startswith(api_prefix + "/"):
            response.headers.setdefault("Cache-Control", "no-store")
        return response


def trust_proxies(app: Flask, hops: int):
    """Take the client's address and scheme from the last `hops` proxies' X-Forwarded-For
    and X-Forwarded-Proto (PROXY_HOPS: 1 behind Heroku's or Render's router, which append
    the address they saw). Values a client wrote further left are never believed, and with
    0 the headers are ignored: anyone could send them."""
    if hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=0, x_port=0)
