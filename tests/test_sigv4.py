"""SigV4 signing (core/adapters/sigv4.py) as S3 checks it: AWS's own published example, and
every kind of request the client sends (core/adapters/s3http.py), as a server received it,
carrying the Authorization header that botocore's S3 signer computes for that same request
at the same time: method, path, query, headers and body. What AWS accepts from botocore it
accepts from pdfq, without AWS in the test."""

import datetime as dt
import io
from unittest import mock
from urllib.parse import parse_qsl, urlsplit

import botocore.auth
import pytest
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials as BotocoreCredentials

from core.adapters.s3http import S3Client
from core.adapters.sigv4 import EMPTY_SHA256, Credentials, Signer
from tests.support.scripted_store import ScriptedStore

KEYS = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
WITH_TOKEN = Credentials(*KEYS[:2], token="FQoGZXIvYXdzE//session+token/==")
# Headers the transport adds after signing: botocore does not sign them either.
TRANSPORT = {"authorization", "content-length", "user-agent", "accept-encoding", "connection"}
LISTING = (
    b'<?xml version="1.0" encoding="UTF-8"?><ListBucketResult '
    b'xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><IsTruncated>false</IsTruncated>'
    b"</ListBucketResult>"
)


def test_the_signature_of_aws_s3_documented_example():
    # "Example: GET Object" of AWS's S3 SigV4 documentation (Authenticating Requests:
    # Using the Authorization Header), with its keys, date and expected signature.
    headers = {"host": "examplebucket.s3.amazonaws.com", "range": "bytes=0-9"}
    Signer("us-east-1").sign(
        Credentials("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
        "GET",
        "/test.txt",
        "",
        headers,
        EMPTY_SHA256,
        "20130524T000000Z",
    )
    assert headers["authorization"] == (
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
        "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
        "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
    )


@pytest.fixture
def store():
    store = ScriptedStore()
    yield store
    store.stop()


def botocore_authorization(store, received, credentials, region, unsigned=False) -> str:
    """The Authorization botocore's S3 signer gives the request `received`, at its x-amz-date."""
    parts = urlsplit(received.path)
    request = AWSRequest(
        method=received.method,
        url=store.url + parts.path,  # S3 signs the path as sent, percent-encoding included
        headers={k: v for k, v in received.headers if k.lower() not in TRANSPORT},
        data=received.body,
        params=parse_qsl(parts.query, keep_blank_values=True),  # encoded again by botocore
    )
    if unsigned:
        request.context["client_config"] = Config(s3={"payload_signing_enabled": False})
    when = dt.datetime.strptime(received.header("x-amz-date"), "%Y%m%dT%H%M%SZ")
    signer = botocore.auth.S3SigV4Auth(
        BotocoreCredentials(credentials.access_key, credentials.secret_key, credentials.token),
        "s3",
        region,
    )
    with mock.patch.object(botocore.auth, "get_current_datetime", return_value=when):
        signer.add_auth(request)
    return request.headers["Authorization"]


AWKWARD = "dir/a b+c~d/\u00fcnic\u00f8de \u00e9,;=&?#%@!$'()*[].pdf"
REQUESTS = {
    "GET": lambda c: c.get("docs/report.pdf"),
    "GET a range of one version": lambda c: c.get(
        "a.pdf", byte_range="bytes=0-1023", if_match='"9b2cf535f27731c974343645a3985328"'
    ),
    "GET a streamed body": lambda c: c.get("a.pdf", stream=True).close(),
    "PUT bytes, if absent": lambda c: c.put(
        "jobs/public/j.json",
        b'{"status": "queued"}',
        content_type="application/json",
        if_absent=True,
    ),
    "PUT bytes with metadata, if unchanged": lambda c: c.put(
        "sources/public/a.pdf",
        b"%PDF-1.4\n",
        content_type="application/pdf",
        metadata={"filename": "My  report (final).pdf"},
        if_match='"abc"',
    ),
    "PUT a file, payload hashed": lambda c: c.put(
        "results/t.txt", io.BytesIO(b"text " * 30000), content_type="text/plain", length=150000
    ),
    "PUT empty": lambda c: c.put("index/x", b"", content_type="application/octet-stream"),
    "HEAD": lambda c: c.head("results/public/x/result.json"),
    "DELETE": lambda c: c.delete("active/public/x"),
    "COPY if the source is unchanged": lambda c: c.copy(
        "results/a b+c/text.txt", "results/\u00fc/text.txt", if_match='"e"'
    ),
    "a key with spaces, unicode, +, ~ and reserved characters": lambda c: c.get(AWKWARD),
    "HEAD of the bucket": lambda c: c.head_bucket(),
}


@pytest.mark.parametrize("credentials", [KEYS, WITH_TOKEN], ids=["keys", "session token"])
@pytest.mark.parametrize("send", REQUESTS.values(), ids=REQUESTS.keys())
def test_each_request_is_signed_as_botocore_signs_it(store, send, credentials):
    client = S3Client(
        bucket="pdfq-test",
        region="eu-west-3",
        endpoint_url=store.url,
        credentials=lambda: credentials,
    )
    send(client)
    [received] = store.received
    assert received.header("x-amz-security-token") == credentials.token
    assert received.header("authorization") == botocore_authorization(
        store, received, credentials, "eu-west-3"
    )


@pytest.mark.parametrize("credentials", [KEYS, WITH_TOKEN], ids=["keys", "session token"])
def test_a_listing_query_is_signed_as_botocore_signs_it(store, credentials):
    store.answer((200, {"Content-Type": "application/xml"}, LISTING))
    client = S3Client(
        bucket="pdfq-test",
        region="us-east-1",
        endpoint_url=store.url,
        credentials=lambda: credentials,
    )
    client.list(
        "index/pub lic/+\u00e9/",
        start_after="index/a=b&c",
        max_keys=10,
        delimiter="/",
        token="1ZJK+/tok==",
    )
    [received] = store.received
    assert received.header("authorization") == botocore_authorization(
        store, received, credentials, "us-east-1"
    )


def test_an_unsigned_file_body_is_signed_as_botocore_signs_an_unsigned_payload(store):
    client = S3Client(
        bucket="pdfq-test",
        region="us-east-1",
        endpoint_url=store.url,
        credentials=lambda: KEYS,
        unsigned_streams=True,
    )
    client.put("big.bin", io.BytesIO(b"x" * 70000), content_type="application/pdf", length=70000)
    [received] = store.received
    assert received.header("x-amz-content-sha256") == "UNSIGNED-PAYLOAD"
    assert received.header("authorization") == botocore_authorization(
        store, received, KEYS, "us-east-1", unsigned=True
    )
    assert received.body == b"x" * 70000


def test_signing_keys_are_kept_per_secret_and_day():
    signer = Signer("us-east-1")
    for day in ("20240101", "20240101", "20240102"):
        headers = {"host": "h"}
        signer.sign(KEYS, "GET", "/", "", headers, EMPTY_SHA256, day + "T000000Z")
    assert len(signer._keys) == 2
