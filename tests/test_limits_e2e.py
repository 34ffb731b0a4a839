"""Limits across real processes: two gunicorn workers, huey_consumer, Redis and moto's S3.

A queue that fills while the worker is stopped answers 503 queue_full to every tenant and
drains when the worker is back; the per-tenant limit holds whichever gunicorn worker answers;
a chunked JSON body over MAX_JSON_BYTES is cut off with 413.
"""

import http.client
import json

import pytest

from tests.support.api import ACME, GLOBEX, TWO_TENANTS, multipart
from tests.support.corpus import GOOD
from tests.support.stack import Stack

pytestmark = pytest.mark.e2e

JO = GOOD / "pdfminer_jo.pdf"


@pytest.fixture(scope="module")
def stack(redis_server, moto_server, tmp_path_factory):
    stack = Stack(
        redis_server.url,
        moto_server,
        tmp_path_factory.mktemp("limits-stack"),
        API_TOKENS=TWO_TENANTS,
        QUEUE_MAX_PENDING="2",
        TENANT_MAX_JOBS_IN_FLIGHT="3",
        MAX_JSON_BYTES="2048",
    )
    yield stack
    stack.stop()


def upload(stack: Stack, token: str) -> tuple[int, dict, dict]:
    body, content_type = multipart(JO.read_bytes(), JO.name)
    headers = {"Authorization": f"Bearer {token}"}
    return stack.request("POST", "/api/v1/pdf/documents", body, content_type, headers=headers)


def test_a_full_queue_answers_503_to_everyone_until_the_worker_drains_it(stack):
    stack.procs["worker"].stop()
    try:
        first = [upload(stack, ACME) for _ in range(2)]
        assert [status for status, _, _ in first] == [202, 202]
        for token in (ACME, GLOBEX):
            status, body, headers = upload(stack, token)
            assert status == 503, body
            assert body["error"]["code"] == "queue_full"
            assert "QUEUE_MAX_PENDING" in body["error"]["message"]
            assert headers["Retry-After"] == "30"
    finally:
        stack.start("worker")
    stack.token = ACME
    stack.wait([body["id"] for _, body, _ in first])
    status, body, _ = upload(stack, GLOBEX)
    assert status == 202
    stack.token = GLOBEX
    stack.wait([body["id"]])  # done: it holds none of globex's slots in the next test


def test_the_tenants_limit_holds_whichever_web_worker_answers(stack):
    stack.token = GLOBEX
    body = {"filename": "a.pdf", "content_type": "application/pdf"}
    answers = [stack.post_json("/api/v1/pdf/uploads", body) for _ in range(6)]
    assert [status for status, _ in answers] == [201, 201, 201, 429, 429, 429], answers
    assert {answer["error"]["code"] for status, answer in answers if status == 429} == {
        "too_many_jobs"
    }
    stack.token = ACME
    assert stack.post_json("/api/v1/pdf/uploads", body)[0] == 201  # acme is not held back


def test_a_chunked_json_body_over_the_limit_is_413(stack):
    connection = http.client.HTTPConnection("127.0.0.1", stack.port, timeout=30)
    payload = json.dumps({"filename": "a" * 10_000, "content_type": "application/pdf"}).encode()
    connection.putrequest("POST", "/api/v1/pdf/uploads")
    connection.putheader("Authorization", f"Bearer {ACME}")
    connection.putheader("Content-Type", "application/json")
    connection.putheader("Transfer-Encoding", "chunked")
    connection.endheaders()
    for start in range(0, len(payload), 1000):
        chunk = payload[start : start + 1000]
        connection.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))
    connection.send(b"0\r\n\r\n")
    response = connection.getresponse()
    body = json.loads(response.read())
    connection.close()
    assert response.status == 413, body
    assert body["error"]["code"] == "too_large"
