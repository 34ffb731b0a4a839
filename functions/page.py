"""The upload page at /: static HTML and plain JavaScript from functions/static, no build step."""

from __future__ import annotations

from flask import Blueprint, current_app

from functions.auth import public

bp = Blueprint("page", __name__)


@bp.get("/")
@public  # static HTML: the page sends the token the user types to the API
def index():
    response = current_app.send_static_file("index.html")
    response.headers["Cache-Control"] = "no-cache"  # a new release shows at the next load
    return response


@bp.get("/favicon.ico")
@public
def favicon():
    """The page's icon, for browsers and tools that ask for it here rather than at its link."""
    response = current_app.send_static_file("favicon.svg")
    response.headers["Cache-Control"] = "public, max-age=86400"
    return response
