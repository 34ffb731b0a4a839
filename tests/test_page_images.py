"""Page images (consumer/page_images.py, GET /jobs/{id}/pages/{n}.png): drawn by PDFium in a
sandbox child on first request, kept beside the result, bounded in width, gone with the job."""

import struct

import pypdfium2 as pdfium
import pytest

from consumer import page_images, page_sources, sandbox
from core import keys
from core.jobs import results
from engines.page_image import MAX_ASPECT, render_png
from tests.support.api import multipart, upload
from tests.support.corpus import BAD, GOOD
from tests.support.jobs import recorded_job

PDF = GOOD / "pdfjs_tracemonkey.pdf"
ENCRYPTED, PASSWORD = BAD / "pdfminer_aes-256-r6.pdf", {"password": "usersecret"}


@pytest.fixture(autouse=True)
def no_copies_kept():
    """Each test starts and ends with no PDF kept for drawing (a process-wide cache)."""
    page_sources.clear()
    yield
    page_sources.clear()


def png_size(body: bytes) -> tuple[int, int]:
    assert body[:8] == b"\x89PNG\r\n\x1a\n"
    assert body[12:16] == b"IHDR"
    return struct.unpack(">II", body[16:24])


def url(job_id: str, page: int, width: str | None = None) -> str:
    query = f"?width={width}" if width is not None else ""
    return f"/api/v1/pdf/jobs/{job_id}/pages/{page}.png{query}"


def test_a_page_is_drawn_once_at_the_width_asked_and_then_read_from_storage(
    client, services, monkeypatch
):
    job = upload(client, PDF)
    response = client.get(url(job["id"], 2, "640"))
    assert response.status_code == 200
    assert response.content_type == "image/png"
    body = response.get_data()
    wide, high = png_size(body)
    assert wide == 700  # rounded up to a multiple of 100
    assert high > wide  # a portrait page
    assert response.headers["X-Page-Points"] == "612 792"  # US Letter, in PDF points
    record = services.records.get(job["id"], "public")
    kept = keys.page_image_key(results.result_key(record), 2, 700)
    assert services.storage.get_bytes(kept) == body

    def no_second_drawing(*args, **kwargs):
        raise AssertionError("the kept image should have been served")

    monkeypatch.setattr(sandbox, "render", no_second_drawing)
    again = client.get(url(job["id"], 2, "700"))
    assert again.status_code == 200 and again.get_data() == body
    assert again.headers["X-Page-Points"] == "612 792"


def test_the_width_is_bounded_by_the_setting_and_must_be_a_number(client, configure):
    configure(PAGE_IMAGE_MAX_WIDTH="300")
    job = upload(client, PDF)
    assert png_size(client.get(url(job["id"], 1, "99999")).get_data())[0] == 300
    assert png_size(client.get(url(job["id"], 1, "1")).get_data())[0] == 100
    assert png_size(client.get(url(job["id"], 1)).get_data())[0] == 300  # 800 by default
    for bad in ("wide", "-5", "0"):
        response = client.get(url(job["id"], 1, bad))
        assert response.status_code == 400
        assert response.get_json()["error"]["code"] == "bad_request"


def test_unknown_jobs_and_pages_are_404_and_unfinished_jobs_409(client, services):
    assert client.get(url("0" * 32, 1)).status_code == 404
    job = upload(client, PDF)
    for page in (0, 15):
        response = client.get(url(job["id"], page))
        assert response.status_code == 404, page
        assert response.get_json()["error"]["code"] == "not_found"
    queued = recorded_job(services)
    response = client.get(url(queued.id, 1))
    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "result_not_ready"


def test_an_erased_job_has_no_images_left_and_answers_410(client, services):
    job = upload(client, PDF)
    assert client.get(url(job["id"], 1)).status_code == 200
    prefix = keys.results_prefix("public", job["id"])
    assert any(key.endswith(".png") for key in services.storage.list_keys(prefix))
    assert client.delete(f"/api/v1/pdf/jobs/{job['id']}").status_code == 204
    assert list(services.storage.list_keys(prefix)) == []
    response = client.get(url(job["id"], 1))
    assert response.status_code == 410
    assert response.get_json()["error"]["code"] == "deleted"


def test_a_page_whose_pdf_expired_says_so(client, services):
    job = upload(client, PDF)
    services.storage.delete(keys.source_key("public", job["id"]))
    response = client.get(url(job["id"], 1))
    assert response.status_code == 410
    assert response.get_json()["error"]["code"] == "source_expired"


def test_a_very_tall_page_is_drawn_no_taller_than_its_bound(tmp_path):
    tall = pdfium.PdfDocument.new()
    tall.new_page(100, 20000)
    source = tmp_path / "tall.pdf"
    tall.save(source)
    out = tmp_path / "tall.png"
    wide, high, *points = render_png(source, out, page=1, width=400)
    assert points == [100, 20000]
    assert high <= 400 * MAX_ASPECT
    assert png_size(out.read_bytes()) == (wide, high)


@pytest.mark.parametrize(("asked", "drawn"), [(None, 800), ("801", 900), ("5000", 1600)])
def test_widths_are_stepped_and_capped(asked, drawn):
    assert page_images.width_of(asked, 1600) == drawn


@pytest.mark.env(OPTIONS_SECRET="page-images-options-secret-0123456789")
def test_a_pdf_opened_with_its_password_is_drawn_with_it(client):
    body, content_type = multipart(ENCRYPTED.read_bytes(), ENCRYPTED.name, fields=PASSWORD)
    response = client.post("/api/v1/pdf/documents", data=body, content_type=content_type)
    assert response.status_code == 202, response.get_json()
    job = client.get(f"/api/v1/pdf/jobs/{response.get_json()['id']}").get_json()
    assert job["status"] == "succeeded", job
    image = client.get(url(job["id"], 1))
    assert image.status_code == 200
    assert png_size(image.get_data())[0] == 800


def test_paging_through_a_document_copies_its_pdf_once_and_not_for_long(
    client, services, monkeypatch
):
    copies = []
    download = services.storage.download_to

    def counted(key, *args, **kwargs):
        copies.append(key)
        return download(key, *args, **kwargs)

    monkeypatch.setattr(services.storage, "download_to", counted)
    job = upload(client, PDF)
    copies.clear()
    for page in (1, 2, 3):
        assert client.get(url(job["id"], page)).status_code == 200
    assert copies == [keys.source_key("public", job["id"])]  # one copy for three pages
    [kept] = page_sources.kept()
    assert kept.exists()

    later = page_sources._now() + page_sources.KEEP_SECONDS + 1
    monkeypatch.setattr(page_sources, "_now", lambda: later)
    page_sources.sweep()  # what the timer started with the copy does a minute later
    assert page_sources.kept() == [] and not kept.exists()
    assert client.get(url(job["id"], 4)).status_code == 200
    assert len(copies) == 2  # copied again


def test_a_job_erased_through_this_process_drops_its_copy_at_once(client):
    job = upload(client, PDF)
    assert client.get(url(job["id"], 1)).status_code == 200
    [kept] = page_sources.kept()
    assert client.delete(f"/api/v1/pdf/jobs/{job['id']}").status_code == 204
    assert page_sources.kept() == [] and not kept.exists()


def test_the_webs_sandbox_children_are_recycled_as_the_settings_say(client, configure, monkeypatch):
    configure(SANDBOX_MAX_REQUESTS="7", SANDBOX_MAX_RSS_MB="100")
    job = upload(client, PDF)
    asked = []
    render = sandbox.render

    def recorded(*args, **kwargs):
        asked.append(kwargs["recycle"])
        return render(*args, **kwargs)

    monkeypatch.setattr(sandbox, "render", recorded)
    assert client.get(url(job["id"], 1)).status_code == 200
    assert [(r.max_requests, r.max_rss_mb) for r in asked] == [(7, 100)]
