"""The bucket's CORS rules (infra/cors.py): set by provisioning, and what a browser's preflight
then gets."""

import urllib.error
import urllib.request

import pytest

from core.adapters.storage import Storage
from core.settings import load_settings
from infra import cors
from infra.cors import RULE_ID, upload_rule
from infra.report import CHANGED, FAILED, OK, WARNING

PAGE = "http://127.0.0.1:8000"


@pytest.fixture
def storage(services) -> Storage:
    return services.storage


def origins(*listed: str):
    """Settings whose CORS_ORIGINS are `listed`."""
    return load_settings({"CORS_ORIGINS": ",".join(listed)})


def cors_rules(storage: Storage) -> list[dict]:
    """The bucket's CORS rules as storage gives them back; [] when it has none."""
    answer = storage.configure(
        "read the CORS rules", "get_bucket_cors", missing_code="NoSuchCORSConfiguration"
    )
    return (answer or {}).get("CORSRules", [])


def set_cors_rules(storage: Storage, rules: list[dict]):
    storage.configure(
        "set the CORS rules", "put_bucket_cors", CORSConfiguration={"CORSRules": rules}
    )


def test_provisioning_lets_the_configured_origins_post_and_put(storage):
    [outcome] = cors.provision(storage, origins(PAGE, "https://pdfq.example.com"), apply=True)
    assert (outcome.subject, outcome.state) == ("cors", CHANGED)
    assert outcome.detail == f"set for {PAGE}, https://pdfq.example.com"
    [rule] = cors_rules(storage)
    assert sorted(rule["AllowedOrigins"]) == sorted([PAGE, "https://pdfq.example.com"])
    assert sorted(rule["AllowedMethods"]) == ["POST", "PUT"]
    assert rule["ExposeHeaders"] == ["ETag"]


def test_setting_the_same_origins_again_changes_nothing(storage, monkeypatch):
    cors.provision(storage, origins(PAGE), apply=True)
    writes = []
    configure = storage.configure

    def recording(what, method, *args, **kwargs):
        if method.startswith("put_"):
            writes.append(method)
        return configure(what, method, *args, **kwargs)

    monkeypatch.setattr(storage, "configure", recording)
    [outcome] = cors.provision(storage, origins(PAGE), apply=True)
    assert (outcome.state, outcome.detail) == (OK, f"unchanged ({PAGE})")
    assert writes == []


def test_new_origins_replace_pdfqs_rule_and_keep_the_others(storage):
    other = {"ID": "reports", "AllowedOrigins": ["*"], "AllowedMethods": ["GET"]}
    set_cors_rules(storage, [other, upload_rule((PAGE,))])
    [outcome] = cors.provision(storage, origins("https://new.example"), apply=True)
    assert (outcome.state, outcome.detail) == (CHANGED, "set for https://new.example")
    rules = {rule["ID"]: rule for rule in cors_rules(storage)}
    assert rules[RULE_ID]["AllowedOrigins"] == ["https://new.example"]
    assert rules["reports"]["AllowedMethods"] == ["GET"]


def test_no_origins_leave_the_bucket_alone_and_a_release_warns_the_page_cannot_upload(storage):
    [outcome] = cors.provision(storage, origins(), apply=True)
    assert outcome.state == WARNING  # the API and scripts work without CORS: deploy goes on
    assert "CORS_ORIGINS" in outcome.detail and "upload page cannot upload" in outcome.detail
    assert cors_rules(storage) == []


def test_check_fails_naming_cors_origins_when_no_rule_lets_a_page_upload(storage):
    set_cors_rules(storage, [{"ID": "reports", "AllowedOrigins": ["*"], "AllowedMethods": ["GET"]}])
    [outcome] = cors.provision(storage, origins(), apply=False)
    assert outcome.state == FAILED
    assert "Set CORS_ORIGINS to the page's origin" in outcome.detail


def test_check_without_origins_reports_the_rules_an_earlier_provisioning_set(storage):
    """`make run` set its page's origins; `--check` from another shell, without
    CORS_ORIGINS, says which origins may upload instead of "not managed" alone."""
    cors.provision(storage, origins(PAGE), apply=True)
    [outcome] = cors.provision(storage, origins(), apply=False)
    assert (outcome.state, outcome.detail) == (
        OK,
        f"not managed (CORS_ORIGINS is empty); uploads allowed from {PAGE}",
    )


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
    settings = load_settings(
        {"S3_ENDPOINT_URL": moto_server, "S3_BUCKET": "cors-test", "CORS_ORIGINS": PAGE}
    )
    storage = Storage(settings)
    storage.configure("create bucket cors-test", "create_bucket")
    cors.provision(storage, settings, apply=True)
    for path in ("/cors-test", "/cors-test/sources/public/x.pdf"):  # POST form, PUT URL
        status, headers = preflight(moto_server + path, PAGE)
        assert status == 200
        assert headers["Access-Control-Allow-Origin"] == PAGE
        assert headers["Access-Control-Allow-Methods"] == "POST, PUT"
        assert headers["Access-Control-Expose-Headers"] == "ETag"
        # An origin the rules do not list is refused, so its browser never sends the file.
        status, _ = preflight(moto_server + path, "http://elsewhere.example")
        assert status == 403
