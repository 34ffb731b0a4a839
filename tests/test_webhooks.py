"""Webhooks (core/webhooks.py, consumer/delivery.py) in-process: URL rules, the signature, a
real receiver that fails once, and the verification snippet of docs/api.md."""

import datetime as dt
import hashlib
import hmac
import socket
import time

import pytest

from core import webhooks
from core.errors import BadRequest
from core.settings import load_settings
from tests.support.api import multipart
from tests.support.corpus import GOOD
from tests.support.receiver import Receiver
from tests.support.servers import ROOT

SECRET = "a-webhook-secret-long-enough"
JOBS = "/api/v1/pdf/jobs"


@pytest.fixture
def receiver():
    receiver = Receiver(webhooks.tenant_secret(SECRET, "public"), fail_first=1)
    yield receiver
    receiver.stop()


def settings(**values):
    return load_settings({"WEBHOOK_SECRET": SECRET, **values})


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/hook",
        "http://localhost/hook",
        "http://10.1.2.3/hook",
        "http://192.168.0.10/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
    ],
)
def test_private_loopback_and_link_local_callbacks_are_refused(url):
    with pytest.raises(BadRequest, match="callback_url"):
        webhooks.check_url(url, settings())
    assert webhooks.check_url(url, settings(WEBHOOK_ALLOW_PRIVATE="true")) == url


@pytest.mark.parametrize(
    "url",
    [
        "http://100.64.0.1/hook",  # shared address space (carrier-grade NAT)
        "http://100.100.100.200/latest/meta-data",  # a cloud metadata service lives here
        "http://[::ffff:100.100.100.200]/hook",
    ],
)
def test_addresses_that_are_not_globally_routable_are_refused(url):
    with pytest.raises(BadRequest, match="not public"):
        webhooks.check_url(url, settings())


@pytest.mark.parametrize(
    "url",
    [
        "http://[64:ff9b::a00:1]/hook",  # NAT64 of 10.0.0.1
        "http://[64:ff9b::7f00:1]/hook",  # NAT64 of 127.0.0.1
        "http://[64:ff9b:1::808:808]/hook",  # local-use NAT64: the operator's own translator
        "http://[2002:a9fe:a9fe::1]/hook",  # 6to4 of 169.254.169.254
        "http://[::ffff:0:a00:1]/hook",  # IPv4-translated 10.0.0.1
        "http://[::10.0.0.1]/hook",  # IPv4-compatible
        "http://[::127.0.0.1]/hook",
    ],
)
def test_ipv6_addresses_that_embed_a_private_ipv4_address_are_refused(url):
    with pytest.raises(BadRequest, match="not public"):
        webhooks.check_url(url, settings())


@pytest.mark.parametrize(
    "url", ["http://[64:ff9b::808:808]/hook", "http://[2002:808:808::1]/hook", "http://8.8.8.8/"]
)
def test_addresses_that_embed_a_public_ipv4_address_are_allowed(url):
    assert webhooks.check_url(url, settings()) == url


@pytest.mark.env(WEBHOOK_SECRET=SECRET)
def test_a_stalled_lookup_does_not_hold_the_request_that_names_the_url(client, monkeypatch):
    real = socket.getaddrinfo

    def stalled(host, port, *args, **kwargs):
        if host == "slow.test":
            time.sleep(8)
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", stalled)
    body, kind = multipart(
        (GOOD / "pdfminer_jo.pdf").read_bytes(),
        "jo.pdf",
        fields={"callback_url": "http://slow.test/"},
    )
    started = time.monotonic()
    response = client.post("/api/v1/pdf/documents", data=body, content_type=kind)
    assert time.monotonic() - started < 6  # generous: the lookup is waited for 2 s at most
    assert response.status_code == 400, response.get_json()
    assert "cannot resolve 'slow.test'" in response.get_json()["error"]["message"]


def test_a_refusal_does_not_echo_the_internal_address_a_name_resolves_to(monkeypatch):
    monkeypatch.setattr(
        socket,
        "getaddrinfo",
        lambda host, port, *a, **k: [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.5", port))
        ],
    )
    with pytest.raises(BadRequest, match="not public") as refused:
        webhooks.check_url("http://db.internal.test/", settings())
    assert "10.0.0.5" not in refused.value.message


@pytest.mark.parametrize("url", ["http://x%2eevil.test/hook", "http://[fe80::1%25eth0]/"])
def test_a_percent_in_the_host_is_refused(url, monkeypatch):
    # A wildcard DNS zone answers any name with a public address: only the '%' rule stops it.
    monkeypatch.setattr(
        socket,
        "getaddrinfo",
        lambda host, port, *a, **k: [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("8.8.8.8", port))
        ],
    )
    with pytest.raises(BadRequest, match="'%'"):
        webhooks.check_url(url, settings(WEBHOOK_ALLOW_PRIVATE="true"))


def test_the_open_tenant_signs_with_a_derived_secret_never_the_master():
    public = webhooks.tenant_secret(SECRET, "public")
    assert public != SECRET
    derived = hmac.new(SECRET.encode(), b"pdfq-webhook-v1:public", hashlib.sha256).hexdigest()
    assert public == derived  # derived like every other tenant's


@pytest.mark.parametrize(
    "url", ["ftp://example.com/x", "file:///etc/passwd", "http://user:pw@8.8.8.8/", "nope", 5]
)
def test_callbacks_must_be_plain_http_urls(url):
    with pytest.raises(BadRequest, match="callback_url"):
        webhooks.check_url(url, settings(WEBHOOK_ALLOW_PRIVATE="true"))


def test_callbacks_need_a_webhook_secret():
    with pytest.raises(BadRequest, match="WEBHOOK_SECRET"):
        webhooks.check_url("http://8.8.8.8/", load_settings({}))


def test_signature_verifies_and_rejects_tampering_and_old_timestamps():
    body, now = b'{"event": "job.succeeded"}', int(time.time())
    header = webhooks.signature(SECRET, now, body)
    assert webhooks.verify(SECRET, header, body, now)
    assert not webhooks.verify(SECRET, header, body + b" ", now)
    assert not webhooks.verify("another-secret-entirely", header, body, now)
    assert not webhooks.verify(SECRET, header, body, now + 3600)
    assert not webhooks.verify(SECRET, "garbage", body, now)


@pytest.mark.env(WEBHOOK_SECRET=SECRET, WEBHOOK_ALLOW_PRIVATE="true")
def test_a_job_calls_back_signed_and_retries_until_the_receiver_accepts(client, services, receiver):
    body, content_type = multipart((GOOD / "pdfminer_jo.pdf").read_bytes(), "jo.pdf")
    boundary = content_type.split("boundary=")[1]
    field = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="callback_url"\r\n\r\n'
        f"{receiver.url}\r\n"
    )
    response = client.post(
        "/api/v1/pdf/documents", data=field.encode() + body, content_type=content_type
    )
    assert response.status_code == 202, response.get_json()
    job_id = response.get_json()["id"]
    [first] = receiver.wait_for(1)
    assert first["valid"]
    assert first["body"]["event"] == "job.succeeded"
    assert first["body"]["job"]["id"] == job_id
    # Huey scheduled the retry WEBHOOK_RETRY_DELAY later: run it as a consumer would then.
    due = dt.datetime.now(dt.UTC).replace(tzinfo=None) + dt.timedelta(hours=1)
    huey = services.huey
    for task in huey.read_schedule(due):
        huey.execute(task, due)
    second = receiver.wait_for(2)[1]
    assert second["valid"]
    assert second["body"] == first["body"]
    deliveries = client.get(f"{JOBS}/{job_id}").get_json()["deliveries"]
    assert [(d["attempt"], d["status"], d["ok"]) for d in deliveries] == [
        (1, 503, False),
        (2, 204, True),
    ]


@pytest.mark.env(WEBHOOK_SECRET=SECRET)
def test_a_public_looking_callback_on_a_private_address_is_400(client):
    response = client.post(
        "/api/v1/pdf/uploads",
        json={
            "filename": "a.pdf",
            "content_type": "application/pdf",
            "callback_url": "http://localhost:8080/hook",
        },
    )
    assert response.status_code == 400
    assert "'callback_url'" in response.get_json()["error"]["message"]


def test_the_verification_snippet_in_the_docs_accepts_our_signature():
    text = (ROOT / "docs" / "api.md").read_text().split("## Webhooks", 1)[1]
    snippet = text.split("```python\n", 1)[1].split("```", 1)[0]
    namespace: dict = {}
    exec(snippet, namespace)  # noqa: S102 - our own documentation
    body = b'{"event": "job.failed"}'
    header = webhooks.signature(SECRET, int(time.time()), body)
    assert namespace["verify"](SECRET, header, body)
    assert not namespace["verify"](SECRET, header, body + b"x")
    stale = webhooks.signature(SECRET, int(time.time()) - 3600, body)
    assert not namespace["verify"](SECRET, stale, body)
