"""Tables, chunks and languages through the Procfile stack (gunicorn, huey_consumer, Redis,
moto's S3 server), for pdfminer, PDFium and OCRed pages."""

import csv
import io
import json

import pytest

from bench import image_pdfs
from tests.support.stack import Stack
from tests.test_ocr_e2e import upload
from tests.test_tables import RULED, UNRULED, one_page, texts

pytestmark = pytest.mark.e2e
JOBS = "/api/v1/pdf/jobs"
ALL = "tables,markdown,chunks,languages"


@pytest.fixture(scope="module")
def stack(redis_server, moto_server, tmp_path_factory):
    pytest.importorskip("pdfplumber")
    pytest.importorskip("langdetect")
    stack = Stack(redis_server.url, moto_server, tmp_path_factory.mktemp("structure-stack"))
    yield stack
    stack.stop()


def lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines()]


@pytest.mark.parametrize("engine", ["pdfminer", "pdfium"])
def test_every_structure_format_comes_from_the_worker(stack, tmp_path, engine):
    path = one_page(tmp_path / "report.pdf", RULED, UNRULED)
    job_id = upload(stack, path, engine=engine, outputs=ALL, chunk_chars="400")
    assert stack.wait([job_id])[job_id]["status"] == "succeeded", stack.logs()
    status, body, headers = stack.request("GET", f"{JOBS}/{job_id}/result?format=tables")
    assert status == 200 and headers["Content-Type"].startswith("application/x-ndjson")
    found = lines(body)
    assert [texts(t) for t in found] == [RULED.rows, UNRULED.rows]
    status, body, headers = stack.request("GET", found[0]["csv"])
    assert status == 200 and headers["Content-Type"] == "text/csv; charset=utf-8"
    assert list(csv.reader(io.StringIO(body))) == RULED.rows
    status, markdown, _ = stack.request("GET", f"{JOBS}/{job_id}/result?format=markdown")
    assert "| Region | Quarter 1 Units | Price | Note |" in markdown
    assert markdown.count("Dried pears") == 1
    status, body, _ = stack.request("GET", f"{JOBS}/{job_id}/result?format=chunks")
    chunks = lines(body)
    assert [c["kind"] for c in chunks].count("table") == 2
    assert all(c["chars"] <= 400 for c in chunks)
    status, document, _ = stack.request("GET", f"{JOBS}/{job_id}/result?format=json")
    assert document["language"]["code"] == "en"
    assert "tables" not in document["pages"][0] and "blocks" not in document["pages"][0]


def test_ocred_pages_get_chunks_and_languages_and_no_invented_tables(stack, tmp_path):
    path = one_page(tmp_path / "report.pdf", RULED)
    scan = image_pdfs.image_only(path, 1, tmp_path, dpi=200)
    job_id = upload(stack, scan, outputs=ALL, ocr_languages="auto")
    job = stack.wait([job_id], timeout=300)[job_id]
    assert job["status"] == "succeeded" and "ocr_pages:1" in job["warnings"], stack.logs()
    status, document, _ = stack.request("GET", f"{JOBS}/{job_id}/result?format=json")
    assert document["pages"][0]["ocr"] is True
    assert document["language"]["code"] == "en"
    status, body, _ = stack.request("GET", f"{JOBS}/{job_id}/result?format=tables")
    assert status == 200 and body == ""  # an image has no characters to make cells of
    status, body, _ = stack.request("GET", f"{JOBS}/{job_id}/result?format=chunks")
    assert any("figures below" in c["text"] for c in lines(body))
