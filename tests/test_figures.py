"""Figures: the images a PDF's pages show, found where they are drawn, kept as PNG files beside
the result, listed by `?format=figures` with a link each; bounded against hostile PDFs."""

import io
import json
import time

import pytest
import requests
from PIL import Image as PILImage

from consumer import sandbox
from core import keys
from core.errors import ExtractionTimeout
from engines import figures
from tests.support import figure_pdfs
from tests.support.figure_pdfs import Image, Page
from tests.test_options import JOBS, submit


def found_in(tmp_path, pages, numbers=None, caps=None):
    path = figure_pdfs.write(tmp_path / "figures.pdf", pages)
    numbers = numbers or list(range(1, len(pages) + 1))
    return figures.pages(path, "", numbers, tmp_path, caps)


def manifest(client, job_id) -> list[dict]:
    response = client.get(f"{JOBS}/{job_id}/result?format=figures")
    assert response.status_code == 200, response.get_json()
    assert response.content_type == "application/x-ndjson; charset=utf-8"
    return [json.loads(line) for line in response.get_data(as_text=True).splitlines()]


def test_figures_come_with_their_page_box_and_pixel_size_and_small_images_are_skipped(tmp_path):
    pages, found = found_in(
        tmp_path,
        [
            Page(
                [
                    Image(200, 100, (100, 500, 300, 600)),
                    Image(8, 8, (10, 10, 200, 200)),  # few pixels: an icon stretched
                    Image(300, 300, (400, 700, 430, 730)),  # 30 x 30 points: a logo
                    Image(100, 90, (50, 50, 150, 140), rgb=True, form_at=(200, 100)),
                ]
            ),
            Page([]),
            Page([Image(120, 80, (100, 200, 220, 280))], rotate=90),
        ],
    )
    assert found.warnings == [] and found.figures == 3
    assert [(p["page"], len(p["figures"])) for p in pages] == [(1, 2), (2, 0), (3, 1)]
    first, in_form = pages[0]["figures"]
    assert first["bbox"] == [100, 500, 300, 600] and (first["width"], first["height"]) == (200, 100)
    # Inside a Form XObject placed at (200, 100): carried out to page space.
    assert in_form["bbox"] == [250, 150, 350, 240] and (in_form["width"], in_form["height"]) == (
        100,
        90,
    )
    # /Rotate 90 turns the box as pdfminer turns text (its LTImage has this box).
    assert pages[2]["figures"][0]["bbox"] == [200, 392, 280, 512]
    for page in pages:
        for figure in page["figures"]:
            data = (tmp_path / figure["file"]).read_bytes()
            assert len(data) == figure["bytes"]
            with PILImage.open(io.BytesIO(data)) as png:
                assert png.format == "PNG" and png.size == (figure["width"], figure["height"])
    with PILImage.open(tmp_path / in_form["file"]) as png:
        assert png.mode == "RGB" and png.getpixel((7, 3)) == (7, 3, 9)
    with PILImage.open(tmp_path / first["file"]) as png:
        assert png.mode == "L" and png.getpixel((5, 2)) == 7


def test_boxes_are_relative_to_the_media_box_and_a_page_covering_scan_is_not_a_figure(tmp_path):
    pages, _found = found_in(
        tmp_path,
        [
            Page([Image(100, 100, (150, 200, 250, 300))], origin=(50, 100)),
            Page([Image(400, 500, (0, 0, 612, 792)), Image(100, 100, (100, 100, 200, 200))]),
        ],
    )
    assert pages[0]["figures"][0]["bbox"] == [100, 100, 200, 200]
    [kept] = pages[1]["figures"]  # the full-page image is the page, its text is OCR's
    assert kept["bbox"] == [100, 100, 200, 200]


def test_a_page_of_a_hundred_thousand_tiny_images_costs_little_and_keeps_none(tmp_path):
    started = time.monotonic()
    pages, found = found_in(tmp_path, [Page([Image(8, 8, (10, 10, 80, 80), times=100_000)])])
    assert pages[0]["figures"] == [] and found.figures == 0
    assert found.warnings == ["figures_capped"]  # only MAX_IMAGES_PER_PAGE were looked at
    assert time.monotonic() - started < 10
    assert list(tmp_path.glob("*.png")) == []


def test_the_count_and_bytes_per_job_are_capped(tmp_path):
    many = Page([Image(64, 64, (100, 100, 200, 200), times=figures.MAX_FIGURES + 30)])
    pages, found = found_in(tmp_path, [many, Page([Image(64, 64, (0, 0, 100, 100))])])
    assert found.figures == figures.MAX_FIGURES == len(pages[0]["figures"])
    assert pages[1]["figures"] == [] and found.warnings == ["figures_capped"]
    assert len(list(tmp_path.glob("*.png"))) == figures.MAX_FIGURES
    folder = tmp_path / "bytes"
    folder.mkdir()
    caps = figures.Caps(bytes=3000)
    pages, found = found_in(folder, [Page([Image(64, 64, (100, 100, 200, 200), rgb=True)] * 5)])
    one = pages[0]["figures"][0]["bytes"]
    pages, found = found_in(
        folder, [Page([Image(64, 64, (100, 100, 200, 200), rgb=True)] * 5)], caps=caps
    )
    assert found.bytes <= 3000 and len(pages[0]["figures"]) == 3000 // one
    assert found.warnings == ["figures_capped"]


def test_the_client_asks_for_the_figures_format_and_refuses_a_link_for_it(capsys):
    from client import command

    assert command.parser().parse_args(["result", "--format", "figures", "ID"]).format == "figures"
    with pytest.raises(SystemExit):
        command.main(["result", "--format", "figures", "--link", "ID"])
    assert "each figure has its own link" in capsys.readouterr().err


def test_an_image_claiming_a_billion_pixels_is_never_decoded(tmp_path):
    huge = Image(80, 80, (100, 100, 300, 300), claimed=(40_000, 40_000))
    pages, found = found_in(tmp_path, [Page([huge, Image(80, 80, (300, 300, 400, 400))])])
    [kept] = pages[0]["figures"]
    assert kept["bbox"] == [300, 300, 400, 400] and found.warnings == ["figures_capped"]


@pytest.mark.parametrize("engine", ["pdfminer", "pdfium"])
def test_a_job_s_figures_are_listed_with_links_to_their_pngs(client, tmp_path, engine):
    path = figure_pdfs.write(
        tmp_path / "doc.pdf",
        [Page([Image(200, 100, (100, 500, 300, 600))]), Page([Image(90, 70, (60, 60, 150, 130))])],
    )
    job = submit(client, path, engine=engine, outputs="figures")
    assert job["status"] == "succeeded" and "figures" in job["outputs"], job
    found = manifest(client, job["id"])
    assert [(f["figure"], f["page"], f["bbox"], f["width"], f["height"]) for f in found] == [
        (1, 1, [100, 500, 300, 600], 200, 100),
        (2, 2, [60, 60, 150, 130], 90, 70),
    ]
    got = requests.get(found[1]["url"], timeout=10)
    assert got.status_code == 200 and got.content.startswith(b"\x89PNG")
    assert len(got.content) == found[1]["bytes"]
    link = client.get(f"{JOBS}/{job['id']}/result/link?format=figures")
    assert link.status_code == 400


def test_a_job_reusing_another_s_result_gets_figures_of_its_own_and_loses_them_when_erased(
    client, tmp_path, services
):
    path = figure_pdfs.write(tmp_path / "doc.pdf", [Page([Image(200, 100, (100, 500, 300, 600))])])
    first = submit(client, path, outputs="figures")
    second = submit(client, path, outputs="figures")
    record = services.records.get(second["id"], "public")
    assert record.result["reused_from"] == first["id"]
    [figure] = manifest(client, second["id"])
    assert f"/{second['id']}/" in figure["url"]
    assert requests.get(figure["url"], timeout=10).content.startswith(b"\x89PNG")
    assert client.delete(f"{JOBS}/{second['id']}").status_code == 204
    assert list(services.storage.list_keys(keys.results_prefix("public", second["id"]))) == []
    assert requests.get(figure["url"], timeout=10).status_code == 404


@pytest.mark.parametrize("outputs", [None, "tables"])
def test_a_job_that_asks_for_no_figures_does_no_figure_work(
    client, tmp_path, monkeypatch, services, outputs
):
    def refused(*args, **kwargs):
        raise AssertionError("a job without figures enumerated images")

    monkeypatch.setattr(sandbox, "extras", refused)
    path = figure_pdfs.write(tmp_path / "doc.pdf", [Page([Image(200, 100, (100, 500, 300, 600))])])
    job = submit(client, path, **({"outputs": outputs} if outputs else {}))
    assert job["status"] == "succeeded" and job["warnings"] == []
    stored = list(services.storage.list_keys(keys.results_prefix("public", job["id"])))
    assert len(stored) == 1 and stored[0].endswith(".jsonl")  # the result object only
    response = client.get(f"{JOBS}/{job['id']}/result?format=figures")
    assert response.status_code == 409
    assert "/outputs" in response.get_json()["error"]["message"]


def test_figures_that_run_out_of_time_leave_the_text_and_say_so(client, tmp_path, monkeypatch):
    def slow(*args, **kwargs):
        raise ExtractionTimeout("too slow")

    monkeypatch.setattr(sandbox, "extras", slow)
    path = figure_pdfs.write(tmp_path / "doc.pdf", [Page([Image(200, 100, (100, 500, 300, 600))])])
    job = submit(client, path, outputs="figures")
    assert job["status"] == "succeeded" and "figures_failed" in job["warnings"]
    assert "figures" not in job["outputs"]
    text = client.get(f"{JOBS}/{job['id']}/result").get_data(as_text=True)
    assert "Figures and words" in text
