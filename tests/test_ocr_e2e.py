"""OCR and the structure formats through the Procfile stack: gunicorn, huey_consumer, Redis,
moto's S3 server."""

import pytest

from tests.support.api import multipart
from tests.support.corpus import BAD, GOOD
from tests.support.stack import Stack

pytestmark = pytest.mark.e2e
JOBS = "/api/v1/pdf/jobs"


@pytest.fixture(scope="module")
def stack(redis_server, moto_server, tmp_path_factory):
    stack = Stack(redis_server.url, moto_server, tmp_path_factory.mktemp("ocr-stack"))
    yield stack
    stack.stop()


def upload(stack, path, **fields) -> str:
    body, content_type = multipart(path.read_bytes(), path.name, fields=fields)
    status, job, _ = stack.request("POST", "/api/v1/pdf/documents", body, content_type)
    assert status == 202, job
    return job["id"]


def test_scans_and_engine_ocr_come_back_as_text_with_their_ocr_flags(stack):
    scan = upload(stack, BAD / "pymupdf_test_4034.pdf")
    read = upload(stack, GOOD / "pdfjs_wikipedia.pdf", engine="ocr", ocr_languages="eng+deu")
    off = upload(stack, BAD / "pymupdf_test_4034.pdf", ocr="off")
    jobs = stack.wait([scan, read, off], timeout=300)
    assert jobs[scan]["warnings"] == ["ocr_pages:2"], stack.logs()
    assert jobs[read]["warnings"] == ["ocr_pages:1"], stack.logs()
    assert jobs[off]["warnings"] == ["no_text_layer"]
    _, document, _ = stack.request("GET", f"{JOBS}/{scan}/result?format=json")
    assert document["ocr_pages"] == [1, 2]
    for page in document["pages"]:
        assert page["ocr"] is True and page["engine"] == "tesseract"
        assert 0 < page["confidence"] <= 100 and page["text"].strip()
    _, text, _ = stack.request("GET", f"{JOBS}/{read}/result")
    assert "PDF.js is a JavaScript library" in text


def test_blocks_and_markdown_come_from_the_worker(stack):
    job_id = upload(stack, GOOD / "pdfminer_pagelabels.pdf", outputs="markdown")
    assert stack.wait([job_id])[job_id]["status"] == "succeeded"
    status, blocks, headers = stack.request("GET", f"{JOBS}/{job_id}/result?format=blocks")
    assert status == 200 and headers["Content-Type"].startswith("application/x-ndjson")
    assert '"kind": "heading"' in blocks
    status, markdown, headers = stack.request("GET", f"{JOBS}/{job_id}/result?format=markdown")
    assert status == 200 and headers["Content-Type"] == "text/markdown; charset=utf-8"
    assert markdown.startswith("## Contents\n\n- First section (p. 1)")
    assert "<!-- page 5 -->" in markdown


def test_health_reports_ocr_and_its_languages(stack):
    status, body, _ = stack.request("GET", "/api/v1/pdf/health")
    assert status == 200
    assert body["ocr"]["available"] is True and "deu" in body["ocr"]["languages"]
