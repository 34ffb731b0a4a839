"""The engines by name (the registry in core/engine_registry.py) and the pdfium engine
(engines/pdfium_engine.py): pdfium gives pdfminer's result format for every page and pdfq's
error codes, a job records the engine it ran with, and POST /documents takes the `engine`
form field, refusing an unknown one and defaulting to DEFAULT_ENGINE."""

import pytest

from consumer import pipeline
from core import engine_registry, keys
from core.errors import PdfqError
from core.jobs.model import JobStatus
from engines.pdfminer_engine import extract
from tests.support.corpus import BAD, GOOD
from tests.support.jobs import result_summary, stored_job

pdfium = engine_registry.load("pdfium")


@pytest.mark.parametrize("name", ["pdfminer_dmca.pdf", "pdfjs_tracemonkey.pdf"])
def test_pdfium_gives_the_same_result_format_with_every_page(name):
    by_pdfium = pdfium.extract(GOOD / name)
    by_pdfminer = extract(GOOD / name)
    assert [p.number for p in by_pdfium.pages] == [p.number for p in by_pdfminer.pages]
    assert by_pdfium.text.count("\f") == len(by_pdfium.pages)
    assert sum(p.chars for p in by_pdfium.pages) > 0.5 * sum(p.chars for p in by_pdfminer.pages)
    assert by_pdfium.metadata == by_pdfminer.metadata
    assert by_pdfium.warnings == []


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("pdfminer_rc4-40.pdf", "encrypted"),
        ("pdfminer_aes-128.pdf", "encrypted"),
        ("truncated_tail_test_2861.pdf", "corrupt"),
    ],
)
def test_pdfium_reports_unreadable_files_with_pdfq_codes(name, code):
    with pytest.raises(PdfqError) as error:
        pdfium.extract(BAD / name)
    assert error.value.code == code


def test_a_job_with_engine_pdfium_records_the_engine(services):
    job = stored_job(services, GOOD / "pdfminer_dmca.pdf", engine="pdfium")
    assert pipeline.process(services, job.source_key) is JobStatus.SUCCEEDED
    summary = result_summary(services, job)
    assert summary["engine"] == "pypdfium2"
    assert summary["page_count"] == 18
    assert services.records.get(job.id, "public").engine == "pdfium"


def test_post_documents_takes_the_engine_as_a_form_field(client, services):
    path = GOOD / "pdfminer_jo.pdf"
    with open(path, "rb") as fp:
        response = client.post(
            "/api/v1/pdf/documents", data={"file": (fp, path.name), "engine": "pdfium"}
        )
    assert response.status_code == 202, response.get_json()
    job = services.records.get(response.get_json()["id"], "public")
    assert job.engine == "pdfium"
    assert job.status is JobStatus.SUCCEEDED  # immediate Huey in the tests
    assert result_summary(services, job)["engine"] == "pypdfium2"


def test_an_unknown_engine_is_refused_before_anything_is_stored(client, services):
    path = GOOD / "pdfminer_jo.pdf"
    with open(path, "rb") as fp:
        response = client.post(
            "/api/v1/pdf/documents", data={"file": (fp, path.name), "engine": "textract"}
        )
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "bad_request"
    assert list(services.storage.list_keys(keys.SOURCES_PREFIX)) == []


@pytest.mark.env(DEFAULT_ENGINE="pdfium")
def test_the_default_engine_comes_from_the_settings(client, services):
    path = GOOD / "pdfminer_jo.pdf"
    with open(path, "rb") as fp:
        response = client.post("/api/v1/pdf/documents", data={"file": (fp, path.name)})
    assert services.records.get(response.get_json()["id"], "public").engine == "pdfium"
