"""OCR as `provision --check`, /health and the edge see it (infra/ocr_check.py and
core/ocr_support.py): installed or not, and in which languages."""

import uuid

import pytest

from core import ocr_support
from core.settings import load_settings
from infra import local_s3, ocr_check
from infra.report import FAILED, OK, WARNING
from tests.test_provision import run_provision


def test_the_installed_languages_come_from_the_tesseract_data_files():
    assert {"eng", "deu"} <= set(ocr_support.languages())
    assert "osd" not in ocr_support.languages()  # script detection, not a language
    assert ocr_support.missing_languages("eng+deu+xyz") == ["xyz"]
    assert ocr_support.valid_spec("eng+deu") and not ocr_support.valid_spec("eng deu")


def test_provisioning_reports_ocr_and_refuses_languages_that_are_missing():
    [found] = ocr_check.provision(load_settings({}, dotenv=False), apply=False)
    assert found.state == OK
    assert "languages deu+eng" in found.detail and "ocr=auto by default, in eng" in found.detail
    settings = load_settings({"OCR_LANGUAGES": "eng+fra"}, dotenv=False)
    [missing] = ocr_check.provision(settings, apply=False)
    assert missing.state == FAILED and "fra is not installed" in missing.detail


def test_without_language_data_provisioning_warns(monkeypatch):
    monkeypatch.setattr(ocr_support, "languages", lambda configured="": ())
    [found] = ocr_check.provision(load_settings({}, dotenv=False), apply=False)
    assert found.state == WARNING and "scanned pages get no text" in found.detail


def test_health_says_whether_this_machine_can_ocr(client):
    body = client.get("/api/v1/pdf/health").get_json()
    assert body["ocr"]["available"] is True
    assert {"eng", "deu"} <= set(body["ocr"]["languages"])
    assert body["ocr"]["default"] == "auto"


@pytest.mark.integration
def test_provision_check_prints_the_ocr_line(moto_server, redis_url):
    check = run_provision(
        "--check",
        S3_ENDPOINT_URL=moto_server,
        S3_BUCKET=f"ocr-{uuid.uuid4().hex[:8]}",
        HUEY_REDIS_URL=redis_url,
        **local_s3.FAKE_CREDENTIALS,
    )
    assert "provision: ocr: available, languages deu+eng in /usr/share/tesseract-ocr" in (
        check.stdout
    )
