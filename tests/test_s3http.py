"""The S3 client of the per-job requests (core/adapters/s3http.py) on the wire: the URLs and
copy source botocore would send, botocore's retries (a second attempt for a 5xx, throttling,
RequestTimeout or a dropped connection, none for an answer that will not change), error
answers read, file bodies sent again whole, connections reused, credentials asked per request.
A scripted HTTP server (tests/support/scripted_store.py) answers what each test needs."""

import io
from urllib.parse import parse_qsl, urlsplit

import pytest

from core.adapters import s3http
from core.adapters.s3http import S3Client, S3Error, Unreachable
from core.adapters.sigv4 import Credentials
from core.adapters.storage import Storage
from core.settings import load_settings
from tests.support.scripted_store import DROP, ScriptedStore, error
from tests.support.servers import free_port

KEYS = Credentials("AKIDEXAMPLE", "secret")
KEY = "dir/a b+c~d/\u00fcnic\u00f8de \u00e9,;=&?#%.pdf"


class Sent(Exception):
    """Raised from botocore's before-send hook: the request it was about to send."""


def botocore_request(storage: Storage, operation: str, **params):
    """The request botocore's client builds for `operation` with Storage's own configuration."""

    def stop(request, **_):
        raise Sent(request)

    client = storage.client
    client.meta.events.register_first("before-send.s3", stop)
    try:
        getattr(client, operation)(Bucket=storage.bucket, **params)
    except Sent as sent:
        return sent.args[0]
    finally:
        client.meta.events.unregister("before-send.s3", stop)
    raise AssertionError(f"{operation} sent nothing")


@pytest.mark.parametrize(
    ("endpoint", "bucket", "region"),
    [
        ("", "pdfq-test", "us-east-1"),  # virtual-hosted, AWS's global endpoint
        ("", "pdfq-test", "eu-central-1"),
        ("", "pdfq.test", "eu-west-1"),  # a dot: path-style (the certificate is a wildcard)
        ("", "pdfq-test", "cn-north-1"),
        ("http://127.0.0.1:9000", "pdfq-test", "us-east-1"),  # path-style on any endpoint
        ("https://minio.example.com/s3/", "pdfq", "eu-west-1"),  # an endpoint under a path
    ],
)
def test_object_and_bucket_urls_are_the_ones_botocore_sends(endpoint, bucket, region):
    settings = {"S3_ENDPOINT_URL": endpoint, "S3_BUCKET": bucket, "AWS_DEFAULT_REGION": region}
    storage = Storage(load_settings(settings))
    client = storage.http
    sent = botocore_request(storage, "get_object", Key=KEY)
    assert client.base_url + client.path(KEY) == sent.url
    listed = urlsplit(botocore_request(storage, "list_objects_v2", Prefix="a/").url)
    assert client.base_url + client.bucket_path == f"{listed.scheme}://{listed.netloc}" + (
        listed.path or "/"
    )


def test_the_copy_source_header_is_the_one_botocore_sends():
    storage = Storage(load_settings({"S3_ENDPOINT_URL": "http://127.0.0.1:9000"}))
    sent = botocore_request(
        storage, "copy_object", Key="b", CopySource={"Bucket": storage.bucket, "Key": KEY}
    )
    assert s3http.copy_source(storage.bucket, KEY) == sent.headers["x-amz-copy-source"].decode()


@pytest.fixture
def store():
    store = ScriptedStore()
    yield store
    store.stop()


def client_of(store, **kwargs) -> S3Client:
    return S3Client(
        bucket="pdfq-test",
        region="us-east-1",
        endpoint_url=store.url,
        credentials=kwargs.pop("credentials", lambda: KEYS),
        **kwargs,
    )


def test_a_listing_asks_for_its_page_as_botocore_does(store):
    storage = Storage(load_settings({"S3_ENDPOINT_URL": store.url}))
    params = {"Prefix": "index/a b/", "StartAfter": "index/a b/x+y", "MaxKeys": 7}
    sent = urlsplit(botocore_request(storage, "list_objects_v2", Delimiter="/", **params).url)
    store.answer(
        (200, {}, b"<ListBucketResult><IsTruncated>false</IsTruncated></ListBucketResult>")
    )
    storage.http.list("index/a b/", start_after="index/a b/x+y", max_keys=7, delimiter="/")
    [received] = store.received
    assert urlsplit(received.path).path == sent.path
    assert sorted(parse_qsl(urlsplit(received.path).query)) == sorted(parse_qsl(sent.query))


@pytest.mark.parametrize(
    "first",
    [
        error(503, "SlowDown", "Reduce your request rate."),
        error(500, "InternalError"),
        error(502, "BadGateway"),
        error(400, "RequestTimeout", "Your socket connection to the server was not read from"),
        DROP,
    ],
    ids=["503 SlowDown", "500", "502", "400 RequestTimeout", "connection dropped"],
)
def test_a_transient_failure_is_tried_once_more(store, first):
    store.answer(first)
    response = client_of(store).put("k", b"body", content_type="text/plain")
    assert response.status == 200
    assert [r.body for r in store.received] == [b"body", b"body"]


def test_three_failures_are_the_end_of_it(store):
    store.answer(error(500, "InternalError"), DROP, error(502, "BadGateway"), (200, {}, b""))
    with pytest.raises(S3Error) as info:
        client_of(store).get("k")
    assert (info.value.status, info.value.code) == (502, "BadGateway")
    assert len(store.received) == 3


@pytest.mark.parametrize(
    "answer",
    [
        error(500, "InternalError"),
        error(400, "RequestTimeout"),
        DROP,
        error(404, "NoSuchKey"),
        error(403, "AccessDenied"),
        error(400, "InvalidArgument"),
    ],
    ids=["500", "400 RequestTimeout", "connection dropped", "404", "403", "400"],
)
def test_as_many_attempts_as_boto3_configured_as_storage_configures_it(store, answer):
    storage = Storage(load_settings({"S3_ENDPOINT_URL": store.url}))
    store.answer(*[answer] * 5)
    with pytest.raises(Exception):  # noqa: B017 - each client's own error
        storage.client.get_object(Bucket=storage.bucket, Key="k")
    by_boto3, store.script, store.received = len(store.received), [answer] * 5, []
    with pytest.raises((S3Error, Unreachable)):
        storage.http.get("k")
    assert len(store.received) == by_boto3


@pytest.mark.parametrize(
    ("answer", "status", "code"),
    [
        (error(404, "NoSuchKey", "The specified key does not exist."), 404, "NoSuchKey"),
        (error(412, "PreconditionFailed"), 412, "PreconditionFailed"),
        (error(409, "ConditionalRequestConflict"), 409, "ConditionalRequestConflict"),
        (error(403, "AccessDenied"), 403, "AccessDenied"),
        ((404, {}, b""), 404, "404"),  # HEAD: no body, the status is the code (as botocore)
    ],
)
def test_an_answer_that_will_not_change_is_not_tried_again(store, answer, status, code):
    store.answer(answer)
    with pytest.raises(S3Error) as info:
        client_of(store).head("k") if code == "404" else client_of(store).get("k")
    assert (info.value.status, info.value.code) == (status, code)
    assert len(store.received) == 1


def test_a_file_body_is_sent_whole_again_from_where_it_stood(store):
    store.answer(error(503, "SlowDown"))
    fileobj = io.BytesIO(b"skipped|" + b"x" * 100_000)
    fileobj.seek(8)
    client_of(store).put("k", fileobj, content_type="application/pdf", length=100_000)
    assert [r.body for r in store.received] == [b"x" * 100_000] * 2
    assert store.received[1].header("Content-Length") == "100000"


def test_a_copy_that_fails_inside_its_200_answer_is_an_error_tried_again(store):
    # S3 may start a copy's 200 answer, then report the copy failed in its body.
    failed = error(200, "InternalError", "We encountered an internal error.")
    store.answer(failed, (200, {}, b"<CopyObjectResult><ETag>e</ETag></CopyObjectResult>"))
    assert client_of(store).copy("a", "b").status == 200
    store.answer(failed, failed, failed)
    with pytest.raises(S3Error) as info:
        client_of(store).copy("a", "b")
    assert (info.value.status, info.value.code) == (500, "InternalError")
    assert len(store.received) == 5


def test_nothing_listening_is_unreachable():
    client = S3Client(
        bucket="pdfq-test",
        region="us-east-1",
        endpoint_url=f"http://127.0.0.1:{free_port()}",
        credentials=lambda: KEYS,
    )
    with pytest.raises(Unreachable) as info:
        client.get("k")
    assert info.value.reason == "ConnectionRefusedError"


def test_no_credentials_sends_nothing(store):
    with pytest.raises(s3http.NoCredentials):
        client_of(store, credentials=lambda: None).get("k")
    assert store.received == []


def test_credentials_are_asked_for_each_request_so_refreshed_ones_take_over(store):
    rotating = iter([Credentials("FIRST", "s1"), Credentials("SECOND", "s2", "token")])
    client = client_of(store, credentials=lambda: next(rotating))
    client.delete("a")
    client.delete("b")
    first, second = (r.header("Authorization") for r in store.received)
    assert "Credential=FIRST/" in first and "Credential=SECOND/" in second
    assert store.received[1].header("x-amz-security-token") == "token"


def test_connections_are_reused_and_a_body_left_unread_does_not_poison_one(store):
    client = client_of(store)
    store.answer((200, {}, b"a" * 10_000), (200, {}, b"b" * 10_000), (200, {}, b"c" * 100))
    chunks = s3http.chunks(client.get("k", stream=True), 1000)
    assert next(chunks) == b"a" * 1000
    chunks.close()  # the reader stopped early: that connection is closed, not reused
    assert b"".join(s3http.chunks(client.get("k", stream=True), 1000)) == b"b" * 10_000
    assert client.get("k").data == b"c" * 100  # on the connection the full read gave back
    assert client.head("k").status == 200
    ports = [r.port for r in store.received]
    assert ports[0] != ports[1] == ports[2] == ports[3]
