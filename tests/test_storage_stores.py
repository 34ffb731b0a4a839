"""Storage (core/adapters/storage.py, through core/adapters/s3http.py) on each S3
implementation pdfq is tested against: moto's server (in this process) and s3rver (a node
process). Round trips, ranges, streams, keys that need encoding, listings, what is missing,
and conditional requests where the store honours them (moto does; s3rver ignores them)."""

import datetime as dt
import io
import uuid

import boto3
import pytest

from core.adapters.s3http import S3Client
from core.adapters.storage import Storage
from core.errors import ObjectMissing, StorageUnavailable, WriteConflict
from core.settings import load_settings
from tests.support.servers import S3RVER_CREDENTIALS

# Whether the store refuses a conditional request whose condition fails (the capability probe,
# core/adapters/capabilities.py, finds the same).
HONOURS_CONDITIONS = {"moto": True, "s3rver": False}
KEYS = ["a b/c+d~e.pdf", "\u00fcnic\u00f8de/\u00e9t\u00e9 %.txt", "x/=&?#;,'()!.json"]


@pytest.fixture(params=["moto", pytest.param("s3rver", marks=pytest.mark.integration)])
def store(request, monkeypatch) -> tuple[str, Storage]:
    """(name, Storage) on a new bucket of each S3 implementation."""
    if request.param == "moto":
        endpoint, credentials = request.getfixturevalue("s3"), {}
    else:
        endpoint, credentials = request.getfixturevalue("s3rver_server").url, S3RVER_CREDENTIALS
    for name, value in credentials.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)  # it keeps the credentials it found
    bucket = f"stores-{uuid.uuid4().hex[:12]}"
    storage = Storage(load_settings({"S3_ENDPOINT_URL": endpoint, "S3_BUCKET": bucket}))
    storage.configure("create the test bucket", "create_bucket")
    return request.param, storage


def test_objects_round_trip_with_what_head_reports(store):
    _, storage = store
    before = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(seconds=2)
    etag = storage.put_bytes("r/a.json", b'{"v": 1}', "application/json")
    assert storage.get_bytes("r/a.json") == b'{"v": 1}'
    assert storage.get_json("r/a.json") == ({"v": 1}, etag)
    head = storage.head("r/a.json")
    assert (head["ETag"], head["ContentLength"], head["ContentType"]) == (
        etag,
        8,
        "application/json",
    )
    assert head["LastModified"] >= before
    assert storage.etag("r/a.json") == etag


def test_a_file_is_stored_with_its_type_and_metadata(store):
    _, storage = store
    data = b"%PDF-1.4\n" + bytes(range(256)) * 400
    fileobj = io.BytesIO(b"ignored" + data)
    fileobj.seek(7)  # from where it stands
    storage.upload_file("s/a.pdf", fileobj, "application/pdf", {"filename": "a b.pdf"})
    head = storage.head("s/a.pdf")
    assert (head["ContentLength"], head["ContentType"]) == (len(data), "application/pdf")
    assert head["Metadata"] == {"filename": "a b.pdf"}
    assert storage.get_bytes("s/a.pdf") == data


def test_ranges_streams_and_downloads_read_the_body_as_stored(store):
    _, storage = store
    data = bytes(range(256)) * 5000  # 1.2 MiB: more than one chunk of each read
    storage.put_bytes("big.bin", data)
    assert storage.read_head("big.bin", 1024) == data[:1024]
    chunks = list(storage.stream("big.bin", chunk_size=64 * 1024))
    assert len(chunks) > 1 and b"".join(chunks) == data
    out, seen = io.BytesIO(), []
    storage.download_to("big.bin", out, check_size=seen.append)
    assert (out.getvalue(), seen) == (data, [len(data)])


def test_a_size_check_refuses_before_any_of_the_body_is_read(store):
    _, storage = store
    storage.put_bytes("big.bin", b"x" * 100_000)
    out = io.BytesIO()

    def too_large(size):
        raise ValueError(size)

    with pytest.raises(ValueError, match="100000"):
        storage.download_to("big.bin", out, check_size=too_large)
    assert out.getvalue() == b""
    assert storage.get_bytes("big.bin") == b"x" * 100_000  # the client is still fine


def test_keys_that_need_encoding_round_trip_and_list_as_written(store):
    _, storage = store
    for key in KEYS:
        storage.put_bytes("k/" + key, key.encode())
    assert sorted(storage.list_keys("k/")) == sorted("k/" + key for key in KEYS)
    for key in KEYS:
        assert storage.get_bytes("k/" + key) == key.encode()
    # s3rver decodes a copy source with JavaScript's decodeURI, which leaves %2B (+) and the
    # like encoded: the source here has none (botocore sends the same header, test_s3http.py).
    storage.copy("k/" + KEYS[1], "copied/" + KEYS[0])
    assert storage.get_bytes("copied/" + KEYS[0]) == KEYS[1].encode()
    assert sorted(storage.list_folders("k/")) == sorted({k.split("/")[0] for k in KEYS if "/" in k})


def test_a_page_lists_in_key_order_after_a_key(store):
    name, storage = store
    for n in range(5):
        storage.put_bytes(f"index/{n}", b"")
    page, more = storage.list_page("index/", start_after="index/1", limit=10)
    assert ([item["Key"] for item in page], more) == (["index/2", "index/3", "index/4"], False)
    assert page[0]["Size"] == 0 and page[0]["LastModified"].tzinfo is not None
    assert storage.list_prefixes("") == ["index/"]
    if name == "s3rver":
        return  # s3rver answers a truncated ListObjectsV2 with a 500 (to botocore too)
    page, more = storage.list_page("index/", start_after="index/1", limit=2)
    assert ([item["Key"] for item in page], more) == (["index/2", "index/3"], True)


def test_what_is_missing_is_object_missing(store):
    _, storage = store
    for read in (
        lambda: storage.get_bytes("nope"),
        lambda: storage.get_json("nope"),
        lambda: storage.head("nope"),
        lambda: storage.read_head("nope", 10),
        lambda: storage.stream("nope"),
        lambda: storage.download_to("nope", io.BytesIO()),
        lambda: storage.copy("nope", "elsewhere"),
    ):
        with pytest.raises(ObjectMissing):
            read()
    assert storage.etag("nope") is None
    storage.delete("nope")  # deleting what is not there is done, as in S3


def test_conditional_writes_conflict_where_the_store_honours_them(store):
    name, storage = store
    etag = storage.put_bytes("r.json", b"1", if_absent=True)
    stale = '"' + "0" * 32 + '"'
    writes = (
        lambda: storage.put_bytes("r.json", b"2", if_absent=True),
        lambda: storage.put_bytes("r.json", b"3", if_match=stale),
        lambda: storage.download_to("r.json", io.BytesIO(), if_match=stale),
    )
    for write in writes:
        if HONOURS_CONDITIONS[name]:
            with pytest.raises(WriteConflict):
                write()
        else:
            write()  # s3rver ignores the condition: pdfq keeps its guarantees otherwise
    if HONOURS_CONDITIONS[name]:
        assert storage.put_bytes("r.json", b"4", if_match=etag) != etag
        assert storage.get_bytes("r.json") == b"4"


def test_a_missing_bucket_names_the_provisioning_command(store):
    _, storage = store
    other = Storage(
        load_settings({"S3_ENDPOINT_URL": storage._settings.s3_endpoint_url, "S3_BUCKET": "nah"})
    )
    for call in (lambda: other.get_bytes("x"), lambda: other.put_bytes("x", b""), other.ping):
        with pytest.raises(StorageUnavailable) as info:
            call()
        assert "python -m infra.provision" in info.value.message


def test_a_file_body_sent_unsigned_is_accepted(store):
    _, storage = store
    http = storage.http
    unsigned = S3Client(
        bucket=storage.bucket,
        region="us-east-1",
        endpoint_url=storage._settings.s3_endpoint_url,
        credentials=http._credentials,
        unsigned_streams=True,
    )
    unsigned.put("u.bin", io.BytesIO(b"u" * 70_000), content_type="text/plain", length=70_000)
    assert storage.get_bytes("u.bin") == b"u" * 70_000


@pytest.mark.integration
def test_a_key_the_store_does_not_know_names_the_credentials(s3rver_server, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "NOT-S3RVER")
    storage = Storage(load_settings({"S3_ENDPOINT_URL": s3rver_server.url}))
    with pytest.raises(StorageUnavailable) as info:
        storage.get_bytes("x")
    assert "(InvalidAccessKeyId)" in info.value.message
    assert "check the AWS credentials" in info.value.message


def test_the_probe_finds_what_the_conditional_requests_above_showed(store):
    name, storage = store
    found = storage.probe_capabilities()
    assert found.conditional_create == found.conditional_replace == HONOURS_CONDITIONS[name]
    assert not found.copy_conditions  # neither refuses a copy whose source changed
    assert list(storage.list_keys("store/")) == []  # its throw-away keys are gone
