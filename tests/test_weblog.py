"""Request ids (functions/weblog.py): the router's X-Request-ID, or a new one, on every log
line of the request and back on the response."""

import io
import json
import logging
import re

import pytest

from core import logs
from core.settings import load_settings

PATH = "/test/log-a-line"


@pytest.fixture
def logged(app):
    """A route logging one pdfq line through a JSON handler; returns the lines written."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logs.prepare(handler, load_settings({"LOG_FORMAT": "json"}))
    logger = logging.getLogger("pdfq.test.request")
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.INFO)

    @app.get(PATH)
    def log_a_line():
        logger.info("inside the request")
        return {"ok": True}

    return lambda: [json.loads(line) for line in stream.getvalue().splitlines()]


def test_the_routers_request_id_tags_the_requests_lines_and_comes_back(client, logged):
    response = client.get(PATH, headers={"X-Request-ID": "6a1f0e3c-5b7d-4c2e-9f8a-1b2c3d4e5f60"})
    assert response.headers["X-Request-ID"] == "6a1f0e3c-5b7d-4c2e-9f8a-1b2c3d4e5f60"
    [line] = logged()
    assert line["request_id"] == "6a1f0e3c-5b7d-4c2e-9f8a-1b2c3d4e5f60"


def test_without_a_usable_id_the_web_makes_one_up(client, logged):
    first = client.get(PATH).headers["X-Request-ID"]
    forged = client.get(PATH, headers={"X-Request-ID": 'x" level=error'}).headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", first) and re.fullmatch(r"[0-9a-f]{32}", forged)
    assert first != forged
    assert [line["request_id"] for line in logged()] == [first, forged]


def test_lines_logged_outside_a_request_carry_no_request_id(client, logged):
    client.get(PATH)
    logging.getLogger("pdfq.test.request").info("after the request")
    assert "request_id" not in logged()[-1]


@pytest.mark.env(API_TOKENS="acme:0123456789abcdefghijklmnop")
def test_refused_requests_carry_an_id_too(client):
    response = client.get("/api/v1/pdf/me")
    assert response.status_code == 401
    assert re.fullmatch(r"[0-9a-f]{32}", response.headers["X-Request-ID"])
