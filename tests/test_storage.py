import io

import boto3
import pytest

from core.errors import StorageUnavailable
from core.settings import load_settings
from core.storage import ObjectMissing, Storage, WriteConflict
from tests.servers import free_port


def test_round_trip_and_missing_keys(s3):
    s3.put_bytes("a/b.txt", b"hello")
    assert s3.get_bytes("a/b.txt") == b"hello"
    assert s3.head("a/b.txt")["ContentLength"] == 5
    assert list(s3.list_keys("a/")) == ["a/b.txt"]
    with pytest.raises(ObjectMissing):
        s3.get_bytes("a/missing")


def test_upload_and_download_stream(s3):
    data = b"%PDF-1.4\n" + b"x" * (9 * 1024 * 1024)  # over one multipart chunk
    s3.upload_file("big.pdf", io.BytesIO(data), "application/pdf", {"filename": "big.pdf"})
    out = io.BytesIO()
    s3.download_to("big.pdf", out)
    assert out.getvalue() == data
    assert s3.head("big.pdf")["Metadata"] == {"filename": "big.pdf"}


def test_conditional_writes_detect_a_lost_race(s3):
    etag = s3.put_json("r.json", {"v": 1}, if_absent=True)
    with pytest.raises(WriteConflict):
        s3.put_json("r.json", {"v": 2}, if_absent=True)
    s3.put_json("r.json", {"v": 2}, if_match=etag)
    with pytest.raises(WriteConflict):
        s3.put_json("r.json", {"v": 3}, if_match=etag)
    assert s3.get_json("r.json")[0] == {"v": 2}


def test_no_client_is_built_until_first_use():
    storage = Storage(load_settings({}))
    assert storage._client is None


def test_unreachable_endpoint_is_storage_unavailable():
    settings = load_settings({"S3_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}"})
    with pytest.raises(StorageUnavailable) as info:
        Storage(settings).ping()
    assert info.value.retryable
    assert "is the S3 endpoint up" in info.value.message


def test_missing_bucket_names_the_provisioning_command(s3):
    other = Storage(load_settings({"S3_BUCKET": "not-there"}))
    with pytest.raises(StorageUnavailable) as info:
        other.get_bytes("x")
    assert "python -m infra.provision" in info.value.message


def test_ensure_bucket_is_idempotent(s3):
    assert s3.ensure_bucket() is False
    fresh = Storage(load_settings({"S3_BUCKET": "fresh-bucket"}))
    assert fresh.ensure_bucket() is True
    assert fresh.ensure_bucket() is False


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
