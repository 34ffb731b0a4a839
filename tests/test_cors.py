"""The bucket's CORS rules: set by provisioning, and what a browser's preflight then gets."""

import urllib.error
import urllib.request

import pytest

from core.settings import load_settings
from core.storage import Storage
from infra.cors import RULE_ID, ensure_cors, upload_rule

PAGE = "http://127.0.0.1:8000"


def test_provisioning_lets_the_configured_origins_post_and_put(s3):
    assert ensure_cors(s3, (PAGE, "https://pdfq.example.com")) == (
        f"cors: set for {PAGE}, https://pdfq.example.com"
    )
    [rule] = s3.cors_rules()
    assert sorted(rule["AllowedOrigins"]) == sorted([PAGE, "https://pdfq.example.com"])
    assert sorted(rule["AllowedMethods"]) == ["POST", "PUT"]
    assert rule["ExposeHeaders"] == ["ETag"]


def test_setting_the_same_origins_again_changes_nothing(s3, monkeypatch):
    ensure_cors(s3, (PAGE,))
    writes = []
    monkeypatch.setattr(s3, "set_cors_rules", writes.append)
    assert ensure_cors(s3, (PAGE,)) == f"cors: unchanged ({PAGE})"
    assert writes == []


def test_new_origins_replace_pdfqs_rule_and_keep_the_others(s3):
    other = {"ID": "reports", "AllowedOrigins": ["*"], "AllowedMethods": ["GET"]}
    s3.set_cors_rules([other, upload_rule((PAGE,))])
    assert ensure_cors(s3, ("https://new.example",)) == "cors: set for https://new.example"
    rules = {rule["ID"]: rule for rule in s3.cors_rules()}
    assert rules[RULE_ID]["AllowedOrigins"] == ["https://new.example"]
    assert rules["reports"]["AllowedMethods"] == ["GET"]


def test_no_origins_leave_the_bucket_alone(s3):
    assert ensure_cors(s3, ()) == "cors: not managed (CORS_ORIGINS is empty)"
    assert s3.cors_rules() == []


def preflight(url: str, origin: str, method: str = "POST") -> tuple[int, dict]:
    request = urllib.request.Request(
        url,
        method="OPTIONS",
        headers={"Origin": origin, "Access-Control-Request-Method": method},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback
            return response.status, dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers)


@pytest.mark.integration
def test_moto_server_answers_preflights_by_the_bucket_rules(moto_server):
    storage = Storage(load_settings({"S3_ENDPOINT_URL": moto_server, "S3_BUCKET": "cors-test"}))
    storage.ensure_bucket()
    ensure_cors(storage, (PAGE,))
    for path in ("/cors-test", "/cors-test/sources/public/x.pdf"):  # POST form, PUT URL
        status, headers = preflight(moto_server + path, PAGE)
        assert status == 200
        assert headers["Access-Control-Allow-Origin"] == PAGE
        assert headers["Access-Control-Allow-Methods"] == "POST, PUT"
        assert headers["Access-Control-Expose-Headers"] == "ETag"
        # An origin the rules do not list is refused, so its browser never sends the file.
        status, _ = preflight(moto_server + path, "http://elsewhere.example")
        assert status == 403
