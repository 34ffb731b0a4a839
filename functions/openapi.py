"""GET /openapi.json: the API's OpenAPI 3.1 document, kept beside the code it describes.

The document is a file (functions/openapi.json) rather than generated from the views, so a
change to the API shows up as a change to the contract in review; tests/test_openapi.py checks
it against the routes, docs/api.md and a schemathesis run against the live app.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from flask import Blueprint, Response

from functions.auth import public

bp = Blueprint("openapi", __name__)
DOCUMENT = Path(__file__).with_name("openapi.json")


@cache
def document_bytes() -> bytes:
    return DOCUMENT.read_bytes()


@bp.get("/openapi.json")
@public
def openapi_document():
    """The document itself; public, like /health (a client needs it before it has a token)."""
    return Response(document_bytes(), content_type="application/json")
