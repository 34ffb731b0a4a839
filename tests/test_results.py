"""Result formats: blocks and Markdown beside text, json and pages."""

import json
import re

from core import keys
from core.jobs import results
from tests.support.corpus import GOOD
from tests.test_options import JOBS, submit


def lines(response) -> list[dict]:
    return [json.loads(line) for line in response.get_data(as_text=True).splitlines()]


def test_blocks_format_gives_each_page_its_blocks_with_kinds(client):
    job = submit(client, GOOD / "pdfjs_tracemonkey.pdf", pages="1-2")
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
    job = submit(client, GOOD / "pdfminer_pagelabels.pdf")
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
    job = submit(client, GOOD / "pdfminer_dmca.pdf", engine="pdfium", pages="1")
    [page] = lines(client.get(f"{JOBS}/{job['id']}/result?format=blocks"))
    assert page["blocks"] and all(b["bbox"] is None for b in page["blocks"])


def test_links_name_the_new_formats_and_unknown_formats_list_them(client):
    job = submit(client, GOOD / "pdfminer_jo.pdf")
    link = client.get(f"{JOBS}/{job['id']}/result/link?format=markdown").get_json()
    assert link["format"] == "markdown" and link["bytes"] > 0
    bad = client.get(f"{JOBS}/{job['id']}/result?format=docx")
    assert bad.status_code == 400
    assert "text, json, pages, blocks, markdown" in bad.get_json()["error"]["message"]


def test_results_kept_before_a_format_existed_ask_for_a_reprocess(client, services):
    job = submit(client, GOOD / "pdfminer_jo.pdf")
    services.storage.delete(keys.result_key("public", job["id"], "document.md"))
    response = client.get(f"{JOBS}/{job['id']}/result?format=markdown")
    assert response.status_code == 409
    assert "reprocess the job" in response.get_json()["error"]["message"]
