"""Tables, chunks, languages and figures through the Procfile stack (gunicorn, huey_consumer,
Redis, moto's S3 server), for pdfminer, PDFium and OCRed pages; and outputs added to a job
after it finished."""

import csv
import io
import json
import urllib.request

import pytest

from bench import image_pdfs
from tests.support import figure_pdfs
from tests.support.figure_pdfs import Image, Page
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


def png_size(url: str) -> tuple[int, int]:
    """The width and height of the PNG at a presigned URL (no token: the URL is the grant)."""
    with urllib.request.urlopen(url, timeout=10) as answer:
        data = answer.read()
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and data[12:16] == b"IHDR"
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


@pytest.mark.parametrize("engine", ["pdfminer", "pdfium"])
def test_figures_come_from_the_worker_with_links_to_their_pngs(stack, tmp_path, engine):
    path = figure_pdfs.write(
        tmp_path / "figures.pdf",
        [
            Page([Image(200, 100, (100, 500, 300, 600)), Image(8, 8, (10, 10, 90, 90))]),
            Page([Image(90, 70, (60, 60, 150, 130), rgb=True)]),
        ],
    )
    job_id = upload(stack, path, engine=engine, outputs="figures")
    job = stack.wait([job_id])[job_id]
    assert job["status"] == "succeeded" and "figures" in job["outputs"], stack.logs()
    status, body, headers = stack.request("GET", f"{JOBS}/{job_id}/result?format=figures")
    assert status == 200 and headers["Content-Type"].startswith("application/x-ndjson")
    found = lines(body)
    assert [(f["page"], f["bbox"], f["width"], f["height"]) for f in found] == [
        (1, [100, 500, 300, 600], 200, 100),
        (2, [60, 60, 150, 130], 90, 70),
    ]
    assert [png_size(f["url"]) for f in found] == [(200, 100), (90, 70)]


def test_a_scanned_page_is_no_figure_and_its_text_is_read(stack, tmp_path):
    path = one_page(tmp_path / "report.pdf", RULED)
    scan = image_pdfs.image_only(path, 1, tmp_path, dpi=150)
    job_id = upload(stack, scan, outputs="figures")
    job = stack.wait([job_id], timeout=300)[job_id]
    assert job["status"] == "succeeded" and "ocr_pages:1" in job["warnings"], stack.logs()
    status, body, _ = stack.request("GET", f"{JOBS}/{job_id}/result?format=figures")
    assert status == 200 and body == ""


def test_tables_and_figures_asked_for_after_the_job_finished(stack, tmp_path):
    path = one_page(tmp_path / "report.pdf", RULED)
    job_id = upload(stack, path)
    assert stack.wait([job_id])[job_id]["status"] == "succeeded", stack.logs()
    status, refused, _ = stack.request("GET", f"{JOBS}/{job_id}/result?format=tables")
    assert status == 409 and f"/jobs/{job_id}/outputs" in refused["error"]["message"]
    _, text_before, _ = stack.request("GET", f"{JOBS}/{job_id}/result")
    body = json.dumps({"outputs": ["tables", "figures"]}).encode()
    status, job, _ = stack.request("POST", f"{JOBS}/{job_id}/outputs", body, "application/json")
    assert status == 202 and job["status"] == "succeeded", job
    job = stack.wait_until(job_id, lambda j: not j["outputs_pending"])
    assert {"tables", "figures"} <= set(job["outputs"]) and job["outputs_failed"] == {}, job
    status, body, _ = stack.request("GET", f"{JOBS}/{job_id}/result?format=tables")
    assert status == 200 and [texts(t) for t in lines(body)] == [RULED.rows]
    status, body, _ = stack.request("GET", f"{JOBS}/{job_id}/result?format=figures")
    assert status == 200 and body == ""  # a page of text and rules shows no image
    _, text_after, _ = stack.request("GET", f"{JOBS}/{job_id}/result")
    assert text_after == text_before
