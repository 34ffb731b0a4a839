"""Who is calling: the bearer token names the tenant whose jobs a request may see.

With API_TOKENS set, every view needs `Authorization: Bearer <token>` unless it is marked
@public (health, the OpenAPI document, the page, and the endpoints with their own secret).
With no tokens, development serves one open tenant ("public"); production refuses every API
request, so a server started without tokens by any means never runs open. A server without
tokens also answers only requests addressed to a loopback name (`Host: localhost`,
`127.0.0.1`, `[::1]`, any port): a web page whose own name its DNS turns into 127.0.0.1
(DNS rebinding) could otherwise read and delete the open tenant's jobs from the browser.
"""

from __future__ import annotations

from flask import Flask, current_app, g, request

from core import tokens
from core.errors import AuthNotConfigured, HostNotAllowed, InvalidToken, Unauthorized
from core.keys import DEFAULT_TENANT
from core.settings import TOKEN_CHARS, Settings
from functions.context import services


def public(view):
    """Mark a view that anyone may call (it needs no token, or checks its own secret)."""
    view.pdfq_public = True
    return view


def current_tenant() -> str:
    """The tenant of this request, set by `authenticate` before the view runs."""
    return g.tenant


LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "[::1]"})


def loopback_host(host: str) -> bool:
    """Whether a Host header (a name, with or without a port) names this machine."""
    name = host.strip().lower()
    if name.startswith("["):
        name = name.split("]", 1)[0] + "]"
    else:
        name = name.rsplit(":", 1)[0] if name.count(":") == 1 else name
    return name in LOOPBACK_HOSTS


def check_host():
    """421 for a request to an open development server (no tokens) under any name but a
    loopback one. (Without tokens in production every request is refused anyway: 503.)"""
    settings = services().settings
    if settings.auth_enabled or settings.environment != "development":
        return
    if loopback_host(request.host):
        return
    shown = request.host[:100]
    raise HostNotAllowed(
        f"This server runs without API_TOKENS, so it answers only to localhost, 127.0.0.1 "
        f"and [::1], not to {shown!r} (a web page could otherwise reach it by DNS "
        "rebinding). Set API_TOKENS to serve it under other names."
    )


def authenticate():
    view = current_app.view_functions.get(request.endpoint or "")
    if view is None or request.endpoint == "static" or getattr(view, "pdfq_public", False):
        return  # unknown routes answer 404; public views need no tenant
    settings = services().settings
    if not settings.auth_enabled:
        if settings.environment == "production":
            raise AuthNotConfigured()
        g.tenant = DEFAULT_TENANT
        return
    header = request.headers.get("Authorization")
    if header is None:
        raise Unauthorized("Send your API token as 'Authorization: Bearer <token>'.")
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not TOKEN_CHARS.fullmatch(token):
        raise InvalidToken("The Authorization header must be 'Bearer <token>'.")
    tenant = tokens.tenant_of(token, settings.api_tokens)
    if tenant is None:
        raise InvalidToken("This API token is not known: check it, or ask for a new one.")
    g.tenant = tenant


def register(app: Flask):
    app.before_request(check_host)
    app.before_request(authenticate)


def startup_check(settings: Settings) -> tuple[str | None, str | None]:
    """(why a web server must not start, what it must warn about) for these settings."""
    if settings.auth_enabled:
        return None, None
    if settings.environment == "production":
        return (
            "pdfq: bad configuration: PDFQ_ENV=production and API_TOKENS is empty, so every "
            "request would be refused. Set API_TOKENS to a <tenant>:sha256:<hex> entry, which "
            "`flask --app functions pdf token new <tenant>` prints with its token, or set "
            "PDFQ_ENV=development for a local server without auth."
        ), None
    return None, (
        "pdfq: AUTH IS OFF! No API_TOKENS are set and PDFQ_ENV=development, so anyone who can "
        "reach this server can upload, read and cancel every job. Set API_TOKENS before this "
        "server is reachable from another machine."
    )
