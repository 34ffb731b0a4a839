"""Result formats: blocks and Markdown beside text, json and pages."""

import copy
import json
import re

from core import keys
from core.jobs import results
from core.jobs.model import JobStatus
from tests.support.corpus import GOOD
from tests.support.jobs import moved, recorded_job
from tests.test_options import JOBS, submit


def lines(response) -> list[dict]:
    return [json.loads(line) for line in response.get_data(as_text=True).splitlines()]


def test_blocks_format_gives_each_page_its_blocks_with_kinds(client):
    job = submit(client, GOOD / "pdfjs_tracemonkey.pdf", pages="1-2", outputs="blocks")
    response = client.get(f"{JOBS}/{job['id']}/result?format=blocks")
    assert response.status_code == 200
    assert response.content_type == "application/x-ndjson; charset=utf-8"
    pages = lines(response)
    assert [p["page"] for p in pages] == [1, 2]
    first = pages[0]["blocks"][0]
    assert first["kind"] == "heading" and first["level"] == 1
    assert first["text"].startswith("Trace-based Just-in-Time")
    assert {"bbox", "size", "font", "bold"} <= set(first)
    kinds = {b["kind"] for p in pages for b in p["blocks"]}
    assert {"heading", "paragraph"} <= kinds <= set(results.structure.KINDS)
    text = client.get(f"{JOBS}/{job['id']}/result").get_data(as_text=True)
    squeeze = lambda s: "".join(s.split())  # noqa: E731
    assert squeeze("".join(b["text"] for p in pages for b in p["blocks"])) == squeeze(text)


def test_markdown_format_has_the_outline_headings_and_page_comments(client):
    job = submit(client, GOOD / "pdfminer_pagelabels.pdf", outputs="markdown")
    response = client.get(f"{JOBS}/{job['id']}/result?format=markdown")
    assert response.status_code == 200
    assert response.content_type == "text/markdown; charset=utf-8"
    text = response.get_data(as_text=True)
    assert text.startswith("## Contents\n\n- First section")
    assert "<!-- page 1 -->" in text and "<!-- page 5 -->" in text
    assert re.search(r"^#{1,3} (1 )?First section$", text, re.MULTILINE)
    assert "\n2\n" not in text, "page numbers (kind other) stay out of the Markdown"
    document = client.get(f"{JOBS}/{job['id']}/result?format=json").get_json()
    assert document["outline"][0] == {"level": 1, "title": "First section", "page": 1}


def test_a_pdfium_job_gets_blocks_split_from_its_text(client):
    job = submit(client, GOOD / "pdfminer_dmca.pdf", engine="pdfium", pages="1", outputs="blocks")
    [page] = lines(client.get(f"{JOBS}/{job['id']}/result?format=blocks"))
    assert page["blocks"] and all(b["bbox"] is None for b in page["blocks"])


def test_links_name_the_new_formats_and_unknown_formats_list_them(client):
    job = submit(client, GOOD / "pdfminer_jo.pdf", outputs="markdown")
    link = client.get(f"{JOBS}/{job['id']}/result/link?format=markdown").get_json()
    assert link["format"] == "markdown" and link["bytes"] > 0
    assert link["url"].split("?")[0].endswith("/document.md")
    bad = client.get(f"{JOBS}/{job['id']}/result?format=docx")
    assert bad.status_code == 400
    assert "text, json, pages, blocks, markdown" in bad.get_json()["error"]["message"]


def test_a_job_that_asked_for_no_structure_says_how_to_get_it(client, services):
    job = submit(client, GOOD / "pdfminer_jo.pdf")
    for fmt in ("markdown", "blocks"):
        response = client.get(f"{JOBS}/{job['id']}/result?format={fmt}")
        assert response.status_code == 409
        assert "outputs" in response.get_json()["error"]["message"]
    pages = lines(client.get(f"{JOBS}/{job['id']}/result?format=pages"))
    assert pages and all("blocks" not in page for page in pages)


def test_a_result_with_structure_keeps_blocks_out_of_pages_and_json(client):
    job = submit(client, GOOD / "pdfminer_jo.pdf", outputs="blocks,markdown")
    pages = lines(client.get(f"{JOBS}/{job['id']}/result?format=pages"))
    document = client.get(f"{JOBS}/{job['id']}/result?format=json").get_json()
    assert all("blocks" not in page for page in pages + document["pages"])
    assert [p["text"] for p in document["pages"]] == [p["text"] for p in pages]


def test_blocks_and_markdown_are_made_from_pages_read_once_one_at_a_time(services):
    def block(text, size=10.0):
        return {"text": text, "bbox": None, "size": size, "font": "F", "bold": False}

    body = "A paragraph of body text that goes on for a while.\n"
    given = [
        {"page": 1, "text": "Title\n\n" + body, "blocks": [block("Title\n", 20), block(body)]},
        {"page": 2, "text": "Part\n\n" + body, "blocks": [block("Part\n", 14), block(body)]},
        {"page": 3, "text": "plain\n\nsplit\n", "blocks": None},  # an engine without layout
    ]
    expected = copy.deepcopy(given)
    expected[2]["blocks"] = results.structure.fallback_blocks(expected[2]["text"])
    expected = results.structure.classify(
        [{"page": p["page"], "blocks": p["blocks"]} for p in expected]
    )
    outline = [{"level": 1, "title": "Title", "page": 1}]
    read = []

    def pages():  # a generator: write gets each page once and never the whole list
        for item in copy.deepcopy(given):
            read.append(item["page"])
            yield item

    key = keys.result_key("public", "j1", "run1")
    summary = {"outline": outline, "outputs": ["blocks", "markdown"]}
    results.write(services.storage, key, pages(), summary, structure_wanted=True)
    assert read == [1, 2, 3]
    job = moved(services, recorded_job(services), JobStatus.PROCESSING)
    job = moved(services, job, JobStatus.SUCCEEDED, result={"key": key, **summary})

    def formatted(fmt: str) -> bytes:
        return b"".join(results.chunks(services.storage, job, fmt, 0))

    assert [json.loads(line) for line in formatted("blocks").splitlines()] == expected
    assert expected[0]["blocks"][0]["level"] == 1 and expected[1]["blocks"][0]["level"] == 2
    markdown = formatted("markdown").decode("utf-8")
    assert markdown == results.structure.markdown(expected, outline)
    assert all("blocks" not in json.loads(line) for line in formatted("pages").splitlines())


def test_markdown_read_as_it_streams_equals_the_whole_document_made_at_once(services):
    outline = [{"level": 1, "title": "A", "page": 1}]
    for pages in ([], [{"page": 1, "blocks": []}], [{"page": 1, "blocks": None}]):
        lines_ = [json.dumps(page).encode() for page in pages]
        made = b"".join(results._markdown({"outline": outline}, iter(lines_)))
        assert made.decode() == results.structure.markdown(pages, outline)
