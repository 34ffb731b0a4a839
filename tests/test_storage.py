"""Object storage (core/adapters/storage.py): round trips, streams and conditional writes on
moto, and outages, a missing bucket, missing credentials or any other refusal of the store
(a scripted HTTP server answering as S3 would) reported as pdfq's errors, with what to do.
tests/test_storage_stores.py runs the same requests on each S3 implementation."""

import io
from types import SimpleNamespace

import boto3
import pytest
from botocore.exceptions import ClientError

from core.adapters.storage import Storage
from core.errors import ObjectMissing, StorageUnavailable, WriteConflict
from core.settings import load_settings
from tests.support.requests_count import counted
from tests.support.scripted_store import ScriptedStore, error
from tests.support.servers import free_port


@pytest.fixture
def storage(services) -> Storage:
    return services.storage


def test_round_trip_and_missing_keys(storage):
    storage.put_bytes("a/b.txt", b"hello")
    assert storage.get_bytes("a/b.txt") == b"hello"
    assert storage.head("a/b.txt")["ContentLength"] == 5
    assert list(storage.list_keys("a/")) == ["a/b.txt"]
    with pytest.raises(ObjectMissing):
        storage.get_bytes("a/missing")


def test_upload_and_download_stream(storage):
    data = b"%PDF-1.4\n" + b"x" * (9 * 1024 * 1024)  # over one multipart chunk
    storage.upload_file("big.pdf", io.BytesIO(data), "application/pdf", {"filename": "big.pdf"})
    out = io.BytesIO()
    storage.download_to("big.pdf", out)
    assert out.getvalue() == data
    assert storage.head("big.pdf")["Metadata"] == {"filename": "big.pdf"}


def test_conditional_writes_detect_a_lost_race(storage):
    etag = storage.put_json("r.json", {"v": 1}, if_absent=True)
    with pytest.raises(WriteConflict):
        storage.put_json("r.json", {"v": 2}, if_absent=True)
    storage.put_json("r.json", {"v": 2}, if_match=etag)
    with pytest.raises(WriteConflict):
        storage.put_json("r.json", {"v": 3}, if_match=etag)
    assert storage.get_json("r.json")[0] == {"v": 2}


def test_no_client_is_built_until_first_use():
    storage = Storage(load_settings({}))
    assert storage._client is None and storage._http is None


def test_unreachable_endpoint_is_storage_unavailable():
    settings = load_settings({"S3_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}"})
    with pytest.raises(StorageUnavailable) as info:
        Storage(settings).ping()
    assert info.value.retryable
    assert "is the S3 endpoint up" in info.value.message


def test_missing_bucket_names_the_provisioning_command(s3):
    other = Storage(load_settings({"S3_BUCKET": "not-there", "S3_ENDPOINT_URL": s3}))
    with pytest.raises(StorageUnavailable) as info:
        other.get_bytes("x")
    assert "python -m infra.provision" in info.value.message


def test_presigning_without_credentials_names_the_missing_keys(monkeypatch, tmp_path):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)  # it caches the credentials it found
    storage = Storage(load_settings({"S3_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}"}))
    for sign in (
        lambda: storage.presign_post("k", fields={}, conditions=[], expires=60),
        lambda: storage.presign_put("k", content_type="application/pdf", size=None, expires=60),
    ):
        with pytest.raises(StorageUnavailable) as info:
            sign()
        assert "credentials" in info.value.message


def test_a_copy_of_a_changed_source_is_refused_even_where_the_store_ignores_the_condition(
    storage,
):
    etag = storage.put_bytes("inbox/a.pdf", b"one")
    storage.put_bytes("inbox/a.pdf", b"two")  # replaced after it was checked
    assert not storage.capabilities().copy_conditions  # moto ignores CopySourceIfMatch
    with pytest.raises(WriteConflict):
        storage.copy("inbox/a.pdf", "sources/a.pdf", if_match=etag)
    assert list(storage.list_keys("sources/")) == []


def test_a_record_that_does_not_parse_is_read_again_then_storage_unavailable(storage, monkeypatch):
    storage.put_json("r.json", {"v": 1})
    get = storage.http.get
    torn = iter([b"", b'{"v"'])  # two torn reads, then the whole object

    def racing_a_write(key, **kwargs):
        response = get(key, **kwargs)
        body = next(torn, None)
        return response if body is None else SimpleNamespace(data=body, headers=response.headers)

    monkeypatch.setattr(storage.http, "get", racing_a_write)
    assert storage.get_json("r.json")[0] == {"v": 1}

    torn = iter([b""] * 100)  # never whole: a retryable 503, not a 500
    with pytest.raises(StorageUnavailable) as info:
        storage.get_json("r.json")
    assert info.value.retryable and info.value.retry_after


@pytest.fixture
def scripted():
    store = ScriptedStore()
    yield store
    store.stop()


def scripted_storage(store) -> Storage:
    return Storage(load_settings({"S3_ENDPOINT_URL": store.url}))


@pytest.mark.parametrize(
    ("answer", "expected", "says"),
    [
        (error(404, "NoSuchKey"), ObjectMissing, "k"),
        (error(412, "PreconditionFailed"), WriteConflict, "k"),
        (error(409, "ConditionalRequestConflict"), WriteConflict, "k"),
        (error(404, "NoSuchBucket"), StorageUnavailable, "python -m infra.provision"),
        (error(403, "AccessDenied"), StorageUnavailable, "check the AWS credentials"),
        (error(403, "InvalidAccessKeyId"), StorageUnavailable, "(InvalidAccessKeyId)"),
        (error(403, "SignatureDoesNotMatch"), StorageUnavailable, "(SignatureDoesNotMatch)"),
        (error(501, "NotImplemented"), StorageUnavailable, "(501 NotImplemented)"),
    ],
)
def test_each_refusal_of_the_store_is_mapped_to_pdfqs_error(scripted, answer, expected, says):
    scripted.answer(answer)
    with pytest.raises(expected) as info:
        scripted_storage(scripted).put_bytes("k", b"v", if_absent=True)
    assert says in str(info.value)
    assert len(scripted.received) == 1


def test_an_answer_no_rule_covers_is_botocores_client_error(scripted):
    scripted.answer(error(400, "InvalidArgument", "Invalid argument."))
    with pytest.raises(ClientError) as info:
        scripted_storage(scripted).get_bytes("k")
    assert info.value.response["Error"] == {
        "Code": "InvalidArgument",
        "Message": "Invalid argument.",
    }
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_a_store_that_stays_down_is_storage_unavailable_after_three_attempts(scripted):
    scripted.answer(*[error(503, "ServiceUnavailable")] * 3)
    with pytest.raises(StorageUnavailable) as info:
        scripted_storage(scripted).get_json("r.json")
    assert info.value.retryable and "(503 ServiceUnavailable)" in info.value.message
    assert len(scripted.received) == 3


def test_a_store_busy_once_is_tried_again(scripted):
    scripted.answer(error(503, "SlowDown"), (200, {"ETag": '"e1"'}, b'{"v": 1}'))
    assert scripted_storage(scripted).get_json("r.json") == ({"v": 1}, '"e1"')


def test_a_bucket_in_another_region_names_the_setting_to_change(scripted):
    scripted.answer(
        error(
            400,
            "AuthorizationHeaderMalformed",
            "The authorization header is malformed; the region 'us-east-1' is wrong; "
            "expecting 'eu-west-1'",
            **{"x-amz-bucket-region": "eu-west-1"},
        )
    )
    with pytest.raises(StorageUnavailable) as info:
        scripted_storage(scripted).head("k")
    assert "set AWS_DEFAULT_REGION=eu-west-1" in info.value.message


def test_a_small_file_is_one_put_and_a_large_one_a_multipart_upload(services, monkeypatch):
    storage = services.storage
    with counted(services, monkeypatch) as calls:
        storage.upload_file("small.pdf", io.BytesIO(b"%PDF-1.4\n" * 1000), "application/pdf", {})
    assert calls == {"PutObject": 1}
    big = io.BytesIO(b"x" * (8 * 1024 * 1024))  # the multipart threshold
    with counted(services, monkeypatch) as calls:
        storage.upload_file("big.pdf", big, "application/pdf", {})
    assert calls["CreateMultipartUpload"] == 1 and calls["PutObject"] == 0
