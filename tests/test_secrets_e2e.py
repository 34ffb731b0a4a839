"""No secret reaches a log line, across real processes: gunicorn and huey_consumer from the
Procfile at LOG_LEVEL=debug, a private redis-server and moto's S3 server (the test Stack).

A client uses every secret pdfq handles, right and wrong: its API token, a PDF password,
presigned URLs (their signatures), a callback URL with a secret in its query, the metrics
token; then every line both processes wrote is searched for each of them.
"""

import json
import time
import uuid
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from infra.local_s3 import FAKE_CREDENTIALS
from tests.support.api import multipart
from tests.support.corpus import BAD
from tests.support.receiver import Receiver
from tests.support.stack import Stack

pytestmark = pytest.mark.e2e

TOKEN = "tok-" + uuid.uuid4().hex + uuid.uuid4().hex[:8]  # 44 characters
WRONG_TOKEN = "tok-wrong-" + uuid.uuid4().hex
PASSWORD = "usersecret"  # the corpus's AES-256 file opens with it
WRONG_PASSWORD = "not-" + uuid.uuid4().hex[:12]
METRICS_TOKEN = "metrics-" + uuid.uuid4().hex
WEBHOOK_SECRET = "webhook-" + uuid.uuid4().hex
OPTIONS_SECRET = "options-" + uuid.uuid4().hex
CALLBACK_SECRET = "cb" + uuid.uuid4().hex
ENCRYPTED = BAD / "pdfminer_aes-256-r6.pdf"


@pytest.fixture(scope="module")
def stack(redis_server, moto_server, tmp_path_factory):
    stack = Stack(
        redis_server.url,
        moto_server,
        tmp_path_factory.mktemp("secrets"),
        LOG_LEVEL="debug",
        API_TOKENS=f"acme:{TOKEN}",
        PDFQ_ENV="development",
        METRICS_TOKEN=METRICS_TOKEN,
        OPTIONS_SECRET=OPTIONS_SECRET,
        WEBHOOK_SECRET=WEBHOOK_SECRET,
        WEBHOOK_ALLOW_PRIVATE="true",
        WEBHOOK_RETRY_DELAY="1",
    )
    stack.token = TOKEN
    yield stack
    stack.stop()


def call(stack, method, path, body=None, content_type=None, token=TOKEN):
    """A client's request with `Authorization: Bearer <token>`: (status, decoded body)."""
    headers = {"Authorization": f"Bearer {token}"}  # replaces the stack's own token
    status, answer, _ = stack.request(method, path, body, content_type, headers=headers)
    return status, answer


def submit(stack, path, **fields) -> dict:
    body, kind = multipart(path.read_bytes(), path.name, fields=fields)
    status, job = call(stack, "POST", "/api/v1/pdf/documents", body, kind)
    assert status == 202, job
    return job


def test_no_token_password_signature_or_key_reaches_the_logs(stack):
    receiver = Receiver(WEBHOOK_SECRET, fail_first=1)  # a failed delivery is logged too
    callback = f"{receiver.url}?token={CALLBACK_SECRET}"
    try:
        opened = submit(stack, ENCRYPTED, password=PASSWORD, callback_url=callback)
        refused = submit(stack, ENCRYPTED, password=WRONG_PASSWORD)

        # A presigned upload with the password, through its POST, and a PUT URL beside it.
        body = {
            "filename": ENCRYPTED.name,
            "content_type": "application/pdf",
            "size": ENCRYPTED.stat().st_size,
        }
        status, presigned = call(
            stack,
            "POST",
            "/api/v1/pdf/uploads",
            json.dumps({**body, "password": PASSWORD}).encode(),
            "application/json",
        )
        assert status == 201, presigned
        post, put = presigned["upload"]["post"], presigned["upload"]["put"]
        sent = requests.post(
            post["url"],
            data=post["fields"],
            files={"file": (ENCRYPTED.name, ENCRYPTED.read_bytes(), "application/pdf")},
            timeout=30,
        )
        assert sent.status_code == 204
        status, _ = call(stack, "POST", presigned["links"]["complete"])
        assert status == 202

        jobs = stack.wait([opened["id"], refused["id"], presigned["id"]], timeout=90)
        assert jobs[opened["id"]]["status"] == jobs[presigned["id"]]["status"] == "succeeded"
        assert jobs[refused["id"]]["error"]["code"] == "encrypted"
        deliveries = receiver.wait_for(2)
        assert len(deliveries) == 2  # failed once, then delivered

        status, link = call(stack, "GET", f"/api/v1/pdf/jobs/{opened['id']}/result/link")
        assert status == 200
        # Secrets where a careless log line would pick them up: a query string, a wrong
        # bearer token, the metrics token right and wrong.
        call(stack, "GET", f"/api/v1/pdf/jobs/{opened['id']}?password={PASSWORD}")
        call(stack, "GET", f"/api/v1/pdf/jobs/{opened['id']}", token=WRONG_TOKEN)
        assert call(stack, "GET", "/metrics", token=METRICS_TOKEN)[0] == 200
        assert call(stack, "GET", "/metrics", token=WRONG_TOKEN)[0] == 401
    finally:
        receiver.stop()
    time.sleep(1)  # the last access lines

    signatures = [
        post["fields"]["x-amz-signature"],
        post["fields"]["policy"],
        parse_qs(urlsplit(put["url"]).query)["X-Amz-Signature"][0],
        parse_qs(urlsplit(link["url"]).query)["X-Amz-Signature"][0],
        deliveries[-1]["signature"].split("v1=")[1],
    ]
    secrets = {
        "API token": TOKEN,
        "wrong API token": WRONG_TOKEN,
        "PDF password": PASSWORD,
        "wrong PDF password": WRONG_PASSWORD,
        "metrics token": METRICS_TOKEN,
        "webhook secret": WEBHOOK_SECRET,
        "options secret": OPTIONS_SECRET,
        "callback query": CALLBACK_SECRET,
        "AWS secret key": FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        **{f"signature {i}": value for i, value in enumerate(signatures)},
    }
    logs = {name: proc.log() for name, proc in stack.procs.items()}
    # The logs are real: they saw these requests and this work.
    assert f"/api/v1/pdf/jobs/{opened['id']}/result/link" in logs["web"]
    assert "/metrics" in logs["web"]
    assert f"job {refused['id']}: failed with encrypted" in logs["worker"]
    assert "webhook to 127.0.0.1 failed" in logs["worker"]
    for process, text in logs.items():
        leaked = [name for name, secret in secrets.items() if secret in text]
        assert leaked == [], f"{process} logged {leaked}"
