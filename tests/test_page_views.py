"""The page's views in a real browser (Debian's Chromium, driven by Playwright) against the
real stack: the document viewer (page image, blocks over it, search, keyboard, Markdown), the
jobs browser (filters, paging, bulk cancel), the operations view (its chart moving while
jobs run), and a PDF whose text and name are an XSS payload, shown as text everywhere.
One stack for the module; a handful of small jobs."""

import json
import re
from concurrent.futures import ThreadPoolExecutor

import pytest
from playwright.sync_api import expect

from tests.support.api import multipart
from tests.support.browser import (
    RECORD_VIOLATIONS,
    card,
    drop,
    dropped_and_done,
    page_stack,
    screenshot,
    settled,
)
from tests.support.corpus import GOOD
from tests.support.hostile import _FONT, _stream, classic
from tests.support.made_pdfs import RULED_ROWS, numbered_pdf, ruled_table_pdf
from tests.support.openapi_seed import CORRUPT_PDF

pytestmark = pytest.mark.browser

TOKEN = "pdfq-views-" + "t0k" * 12
METRICS_TOKEN = "pdfq-metrics-" + "m3t" * 10
PAYLOAD = "<img src=x onerror=window.__xss=1>"
# Any element a payload could have made, whatever the CSP would then have let it do.
INJECTED = "document.querySelectorAll('img[src=\"x\"], img[onerror], [onerror]').length"
TRAP = "window.__xss = undefined;"
# What the operations view shows, poll after poll: the queue's depth and jobs finished this
# minute as the chart has them.
RECORD_OPS = """
window.opsSeen = [];
new MutationObserver(() => {
  const chart = document.querySelector("#ops .ops-chart");
  const last = window.opsSeen.at(-1);
  const now = { depth: chart?.dataset.depth, finished: chart?.dataset.finished };
  if (chart && (!last || last.depth !== now.depth || last.finished !== now.finished)) {
    window.opsSeen.push(now);
  }
}).observe(document, {
  subtree: true, attributes: true, attributeFilter: ["data-depth", "data-finished"],
});
"""


@pytest.fixture(scope="module")
def stack(redis_server, moto_server, tmp_path_factory):
    stack = page_stack(
        redis_server.url,
        moto_server,
        tmp_path_factory.mktemp("views"),
        API_TOKENS=f"acme:{TOKEN}",
        METRICS_TOKEN=METRICS_TOKEN,
        PDFQ_ENV="development",
    )
    stack.token = TOKEN
    yield stack
    stack.stop()


def signed_in(page, stack, where: str = "/"):
    """The page with the API token typed into its field, as a person does once per tab."""
    page.goto(stack.base + "/")
    page.get_by_label("API token").fill(TOKEN)
    if where != "/":
        page.goto(stack.base + where)


def blocks_of(stack, job_id: str) -> dict[int, list[dict]]:
    status, body, _ = stack.request("GET", f"/api/v1/pdf/jobs/{job_id}/result?format=blocks")
    assert status == 200, body
    lines = map(json.loads, filter(None, body.split("\n")))  # not splitlines: U+2028 in text
    return {line["page"]: line["blocks"] for line in lines}


def test_the_viewer_shows_each_page_beside_its_text_and_finds_words(stack, page):
    path = GOOD / "pdfjs_tracemonkey.pdf"
    page.add_init_script(RECORD_VIOLATIONS)  # page images are blob: URLs the policy must allow
    asked = []
    page.on("request", lambda request: asked.append(request.url))
    signed_in(page, stack)
    done = dropped_and_done(page, path)
    job_id = done.get_attribute("data-job-id")
    done.get_by_role("link", name=f"Open {path.name} in the viewer").click()

    viewer = page.locator("#viewer")
    expect(viewer).to_be_visible()
    expect(viewer.locator(".viewer-title")).to_have_text(path.name)
    expect(viewer.locator(".strip button")).to_have_count(14)
    expect(viewer.locator(".sheet")).to_have_attribute("data-loaded", "true")
    blocks = blocks_of(stack, job_id)
    rects = viewer.locator("svg.blocks rect")
    expect(rects).to_have_count(len([b for b in blocks[1] if b["bbox"]]))
    image = viewer.locator(".page-image")
    assert image.get_attribute("src").startswith("blob:")
    assert image.evaluate("img => img.naturalWidth") == 800

    # A block hovered on the image lights its text, and a text hovered lights its block.
    rects.nth(2).hover()
    text = viewer.locator('.page-text [data-block="2"]')
    expect(text).to_have_class(re.compile(r"\blit\b"))
    assert text.inner_text().strip() == blocks[1][2]["text"].strip()
    viewer.locator('.page-text [data-block="4"]').hover()
    expect(viewer.locator('svg.blocks rect[data-block="4"]')).to_have_class(re.compile(r"\blit"))
    expect(text).not_to_have_class(re.compile(r"\blit\b"))
    # A job sent without tables: none asked for, none drawn, nothing said.
    assert not [url for url in asked if "format=tables" in url]
    assert not viewer.locator(".viewer-status").inner_text()
    expect(viewer.locator("svg.blocks g.table")).to_have_count(0)
    # The keyboard does what hovering does: ↓ / ↑ in the text light block after block.
    page.mouse.move(0, 0)
    expect(viewer.locator(".page-text .lit")).to_have_count(0)
    viewer.locator(".page-text").focus()
    for _ in range(2):
        page.keyboard.press("ArrowDown")
    expect(viewer.locator('.page-text [data-block="1"]')).to_have_class(re.compile(r"\blit\b"))
    expect(viewer.locator('svg.blocks rect[data-block="1"]')).to_have_class(re.compile(r"\blit"))
    page.keyboard.press("ArrowUp")
    expect(viewer.locator('.page-text [data-block="0"]')).to_have_class(re.compile(r"\blit\b"))
    expect(viewer.locator(".page-text .lit")).to_have_count(1)

    # Search jumps to the first page and block holding the words, then to the next.
    word = "recursion"
    hits = [
        (number, index)
        for number in sorted(blocks)
        for index, block in enumerate(blocks[number])
        if word in block["text"].lower()
    ]
    assert len(hits) >= 2
    viewer.get_by_placeholder("Find in the text").fill(word)
    viewer.get_by_placeholder("Find in the text").press("Enter")
    expect(viewer.locator(".find-result")).to_have_text(f"1 of {len(hits)}")
    expect(viewer.locator(".page-number")).to_have_value(str(hits[0][0]))
    found = viewer.locator(f'.page-text [data-block="{hits[0][1]}"]')
    expect(found).to_have_class(re.compile(r"\bfound\b"))
    assert word in found.inner_text().lower()
    viewer.get_by_role("button", name="Find").click()
    expect(viewer.locator(".find-result")).to_have_text(f"2 of {len(hits)}")
    expect(viewer.locator(".page-number")).to_have_value(str(hits[1][0]))

    # The keyboard pages through (outside the fields).
    viewer.locator(".page-text").focus()
    page.keyboard.press("Home")
    expect(viewer.locator(".page-number")).to_have_value("1")
    page.keyboard.press("ArrowRight")
    expect(viewer.locator(".page-number")).to_have_value("2")
    expect(viewer.locator('.strip button[aria-current="page"]')).to_have_text("2")
    page.keyboard.press("End")
    expect(viewer.locator(".page-number")).to_have_value("14")
    expect(page.locator("#announce")).to_have_text("Page 14 of 14")  # a screen reader hears it
    expect(viewer.locator(".sheet")).to_have_attribute("data-page", "14")
    page.keyboard.press("PageUp")
    expect(viewer.locator(".page-number")).to_have_value("13")

    # The Markdown, rendered and as its source.
    viewer.get_by_role("button", name="Markdown", exact=True).click()
    rendered = viewer.locator(".md-view")
    expect(rendered).to_be_visible()
    expect(rendered.locator("h3, h4, h5").first).to_be_visible()
    assert rendered.locator(".md-page").count() == 14
    viewer.get_by_role("button", name="Markdown source").click()
    expect(viewer.locator(".md-source")).to_contain_text("<!-- page 1 -->")
    viewer.get_by_role("button", name="Text", exact=True).click()
    expect(viewer.locator(".sheet")).to_be_visible()
    assert page.evaluate("window.cspViolations") == []


def tables_of(stack, job_id: str) -> list[dict]:
    status, body, _ = stack.request("GET", f"/api/v1/pdf/jobs/{job_id}/result?format=tables")
    assert status == 200, body
    return [json.loads(line) for line in body.split("\n") if line]


def cells_of(table: dict):
    """(row, column, cell) for each real cell: the positions a spanning cell covers skipped."""
    for r, row in enumerate(table["rows"]):
        c = 0
        while c < len(row):
            yield r, c, row[c]
            c += row[c].get("colspan", 1)


def test_the_viewer_draws_each_table_as_a_grid_beside_its_cells(stack, page, tmp_path):
    path = tmp_path / "quarter.pdf"
    ruled_table_pdf(path)
    errors = []
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))
    signed_in(page, stack)
    page.locator("#options summary").click()
    page.get_by_label("Tables").check()
    done = dropped_and_done(page, path)
    job_id = done.get_attribute("data-job-id")
    assert stack.job(job_id)["options"]["outputs"] == ["blocks", "markdown", "tables"]
    [table] = tables_of(stack, job_id)
    assert [[cell["text"] for cell in row] for row in table["rows"]] == RULED_ROWS
    done.get_by_role("link", name=f"Open {path.name} in the viewer").click()

    viewer = page.locator("#viewer")
    expect(viewer.locator(".sheet")).to_have_attribute("data-loaded", "true")
    grid = viewer.locator(f'svg.blocks g.table[data-table="{table["table"]}"]')
    cells = [(r, c, cell) for r, c, cell in cells_of(table) if cell["bbox"]]
    expect(grid.locator("rect.cell")).to_have_count(len(cells))
    headers = [(r, c) for r, c, _ in cells if r < table["header_rows"]]
    assert table["header_rows"] == 2
    expect(grid.locator("rect.cell.header")).to_have_count(len(headers))

    # Each cell's rectangle is where its box is on the page: PDF points (origin bottom left)
    # scaled to the image as shown, 612 x 792 points.
    image = viewer.locator(".page-image").bounding_box()
    scale_x, scale_y = image["width"] / 612, image["height"] / 792
    for r, c, cell in cells:
        drawn = grid.locator(f'rect[data-cell="{table["table"]}.{r}.{c}"]').bounding_box()
        x0, y0, x1, y1 = cell["bbox"]
        assert drawn["x"] == pytest.approx(image["x"] + x0 * scale_x, abs=1.5), (r, c)
        assert drawn["y"] == pytest.approx(image["y"] + (792 - y1) * scale_y, abs=1.5), (r, c)
        assert drawn["width"] == pytest.approx((x1 - x0) * scale_x, abs=1.5), (r, c)
        assert drawn["height"] == pytest.approx((y1 - y0) * scale_y, abs=1.5), (r, c)

    # Beside the text, the same table as HTML: its header rows as column headers, a spanning
    # cell over its columns, every cell's text.
    html = viewer.get_by_role("table", name=f"Table {table['table']}")
    expect(html).to_be_visible()
    expect(html.locator("thead tr")).to_have_count(2)
    expect(html.locator("thead tr").nth(0).locator("th").nth(1)).to_have_attribute("colspan", "3")
    assert html.locator("thead tr").nth(1).locator("th").all_inner_texts() == RULED_ROWS[1]
    body = html.locator("tbody tr")
    expect(body).to_have_count(len(RULED_ROWS) - 2)
    for i, row in enumerate(RULED_ROWS[2:]):
        assert [t.strip() for t in body.nth(i).locator("td").all_inner_texts()] == row

    # The table stands in the reading order before the blocks made of its cells, muted.
    text = viewer.locator(".page-text")
    expect(text.locator(".block.in-table")).not_to_have_count(0)
    assert not text.locator(".block").first.evaluate("b => b.classList.contains('in-table')")
    order = text.evaluate(
        "box => [...box.children].map(n => n.matches('table') ? 'table' :"
        " n.classList.contains('in-table') ? 'cell' : 'text')"
    )
    assert order.index("table") < order.index("cell"), order

    # A cell hovered on the image lights its place in the HTML table.
    grid.locator(f'rect[data-cell="{table["table"]}.2.0"]').hover()
    expect(html.locator(f'td[data-cell="{table["table"]}.2.0"]')).to_have_class("lit")
    screenshot(viewer, "viewer")

    # The Markdown has the table as a table (its header rows joined into one head).
    viewer.get_by_role("button", name="Markdown", exact=True).click()
    rendered = viewer.locator(".md-view table.md-table")
    expect(rendered).to_have_count(1)
    head = ["Region", "Quarter 1 Units", "Price", "Note"]
    assert rendered.locator("thead th").all_inner_texts() == head
    for i, row in enumerate(RULED_ROWS[2:]):
        cells = rendered.locator("tbody tr").nth(i).locator("td").all_inner_texts()
        assert [t.strip() for t in cells] == row
    assert errors == []


def test_the_jobs_browser_filters_pages_and_cancels_several_at_once(stack, page):
    body, content_type = multipart((GOOD / "pdfminer_jo.pdf").read_bytes(), "jo.pdf")
    status, job, _ = stack.request("POST", "/api/v1/pdf/documents", body, content_type)
    assert status == 202, job
    finished = job["id"]
    stack.wait([finished])
    waiting = []
    for number in range(12):
        status, job = stack.post_json(
            "/api/v1/pdf/uploads",
            {"filename": f"waiting-{number:02d}.pdf", "content_type": "application/pdf"},
        )
        assert status == 201, job
        waiting.append(job["id"])
    signed_in(page, stack, "/#/jobs")
    browser = page.locator("#jobs")
    browser.get_by_label("Status").select_option("awaiting_upload")
    browser.get_by_label("Since").select_option("3600")
    browser.get_by_label("Per page").select_option("10")
    browser.get_by_role("button", name="Show").click()
    rows = browser.locator("tbody tr")
    expect(rows).to_have_count(10)
    browser.get_by_role("button", name="Next page").click()
    expect(rows).to_have_count(12)
    expect(browser.get_by_role("button", name="Next page")).to_be_hidden()
    shown = [rows.nth(i).get_attribute("data-job-id") for i in range(12)]
    assert sorted(shown) == sorted(waiting)
    assert rows.first.locator(".name").inner_text().startswith("waiting-")

    browser.get_by_label("Select every job shown").check()
    browser.get_by_role("button", name="Cancel").click()
    expect(browser.locator(".jobs-status")).to_have_text("12 canceled.")
    for job_id in waiting:
        assert stack.job(job_id)["status"] == "canceled"
    browser.get_by_label("Status").select_option("canceled")
    browser.get_by_label("Per page").select_option("25")
    browser.get_by_role("button", name="Show").click()
    expect(rows).to_have_count(12)
    assert set(rows.locator("td.status").all_inner_texts()) == {"canceled"}
    screenshot(browser, "jobs")

    # Two deleted, after the page asks: erased (410), gone from the list.
    doomed = [rows.nth(i).get_attribute("data-job-id") for i in (0, 1)]
    for i in (0, 1):
        rows.nth(i).locator("input.pick").check()
    page.once("dialog", lambda dialog: dialog.accept())
    browser.get_by_role("button", name="Delete").click()
    expect(browser.locator(".jobs-status")).to_have_text("2 deleted.")
    expect(rows).to_have_count(10)
    for job_id in doomed:
        assert stack.request("GET", f"/api/v1/pdf/jobs/{job_id}")[0] == 410

    # A finished job opens in the viewer from its row (one sent without blocks: the viewer
    # shows its page and text, and says how to get the blocks).
    browser.get_by_label("Status").select_option("succeeded")
    browser.get_by_role("button", name="Show").click()
    row = browser.locator(f'tbody tr[data-job-id="{finished}"]')
    expect(row).to_have_attribute("data-status", "succeeded")
    row.get_by_role("button", name="Open jo.pdf in the viewer").click()
    expect(page.locator("#viewer .viewer-title")).to_have_text("jo.pdf")
    expect(page.locator("#viewer .sheet")).to_have_attribute("data-loaded", "true")
    expect(page.locator("#viewer .viewer-status")).to_contain_text("without blocks")
    expect(page.locator("#viewer .page-text")).not_to_be_empty()


def test_the_operations_chart_moves_while_fifty_jobs_run(stack, page):
    page.add_init_script(RECORD_OPS)
    page.goto(stack.base + "/#/ops")
    ops = page.locator("#ops")
    expect(ops.locator(".ops-status")).to_contain_text("metrics token")
    ops.get_by_label("Metrics token").fill(METRICS_TOKEN)
    ops.get_by_label("Metrics token").press("Enter")
    numbers = ops.locator("dl.ops-numbers")
    expect(numbers).to_have_attribute("data-finished-total", re.compile(r"\d+"))
    before = int(numbers.get_attribute("data-finished-total"))
    chart = ops.locator(".ops-chart")
    drawn = chart.inner_html()

    # Fifty small PDFs, each its own bytes (the same bytes would be deduplicated), sent four
    # at a time, and one that fails. Twenty pages of text each: enough work (a third of a
    # second) that the stack's two workers leave a queue the view's 3-second polls see.
    def send(number: int) -> str:
        pdf = numbered_pdf(number, 20, 40) if number < 50 else CORRUPT_PDF.read_bytes()
        body, kind = multipart(pdf, f"n{number:02d}.pdf")
        status, job, _ = stack.request("POST", "/api/v1/pdf/documents", body, kind)
        assert status == 202, job
        return job["id"]

    with ThreadPoolExecutor(4) as pool:
        jobs = list(pool.map(send, range(51)))
    # While they run: a queue, drawn in the chart's current minute.
    expect(chart).to_have_attribute("data-depth", re.compile(r"^[1-9]\d*$"), timeout=20_000)
    expect(chart.locator("circle.depth-now")).to_have_count(1)
    workers = ops.locator(".ops-lists section").filter(has_text="Workers")
    expect(workers.locator("li").first).to_contain_text(re.compile(r": \d+ jobs?"))
    screenshot(ops, "ops")
    ended = stack.wait(jobs)
    expect(numbers).to_have_attribute("data-finished-total", str(before + 51), timeout=15_000)
    expect(chart).to_have_attribute("data-depth", "0")
    assert chart.inner_html() != drawn  # the chart moved

    # What the page showed, poll after poll: the queue went up and came down, and the jobs
    # finished this minute climbed (or a new minute began and they were counted in the last).
    seen = page.evaluate("window.opsSeen")
    depths = [int(s["depth"]) for s in seen if s["depth"]]
    assert max(depths) > 0 and depths[-1] == 0, depths
    finished = [int(s["finished"]) for s in seen if s["finished"]]
    assert len(set(finished)) >= 2, finished
    assert int(chart.get_attribute("data-finished-hour")) >= 51
    expect(chart.locator("circle.now")).to_have_count(1)

    # The one that failed is counted under its code.
    code = ended[jobs[-1]]["error"]["code"]
    assert ended[jobs[-1]]["status"] == "failed" and code == "corrupt"
    failures = ops.locator(".ops-lists section").filter(has_text="Failures by error code")
    expect(failures.locator("li").filter(has_text=f"{code}: ")).to_have_count(1)
    assert all(ended[job_id]["status"] == "succeeded" for job_id in jobs[:50])
    expect(ops.locator(".ops-numbers dd").first).to_have_text("up")
    expect(ops.locator(".ops-lists")).to_contain_text("OCR languages")


def xss_pdf() -> bytes:
    """Two pages: the payload as text (in a paragraph and in a heading-sized line), and a
    blank page (the strip marks it empty)."""
    text = PAYLOAD.encode()
    content = b"BT /F1 28 Tf 72 700 Td (%s) Tj ET BT /F1 11 Tf 72 640 Td (%s and more) Tj ET" % (
        text,
        text,
    )
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [5 0 R 6 0 R] /Count 2 >>",
        _FONT,
        _stream(content),
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 3 0 R >> >> >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] >>",
    ]
    return classic(objects)


def test_no_text_or_name_from_a_pdf_runs_in_any_view(stack, page, tmp_path):
    path = tmp_path / f"{PAYLOAD}.pdf"
    path.write_bytes(xss_pdf())
    page.add_init_script(TRAP)
    signed_in(page, stack)
    drop(page, path)
    done = card(page, path.name)
    settled(done, "succeeded")
    expect(done.locator(".name")).to_have_text(path.name)
    expect(done.locator(".text")).to_contain_text(PAYLOAD)
    done.get_by_role("button", name=f"Markdown of {path.name}").click()
    expect(done.locator(".md")).to_contain_text("&lt;img")  # the source, as pdfq wrote it
    assert page.evaluate(INJECTED) == 0

    done.get_by_role("link", name=f"Open {path.name} in the viewer").click()
    viewer = page.locator("#viewer")
    expect(viewer.locator(".viewer-title")).to_have_text(path.name)
    expect(viewer.locator(".page-text")).to_contain_text(PAYLOAD)
    expect(viewer.locator(".sheet")).to_have_attribute("data-loaded", "true")
    strip = viewer.locator(".strip button")
    expect(strip).to_have_count(2)
    job_id = done.get_attribute("data-job-id")
    _, lines, _ = stack.request("GET", f"/api/v1/pdf/jobs/{job_id}/result?format=pages")
    blank = json.loads(lines.split("\n")[1])
    ocr = ["read by OCR"] if blank["ocr"] else []  # OCR (auto) tried the blank page, if installed
    assert strip.nth(1).get_attribute("aria-label") == ", ".join(["Page 2", *ocr, "empty"])
    assert "empty" in strip.nth(1).get_attribute("class").split()
    assert "empty" not in strip.nth(0).get_attribute("class").split()
    viewer.get_by_role("button", name="Markdown", exact=True).click()
    expect(viewer.locator(".md-view")).to_contain_text(PAYLOAD)  # rendered: as text
    viewer.get_by_role("button", name="Markdown source").click()
    expect(viewer.locator(".md-source")).to_contain_text("&lt;img")
    assert page.evaluate(INJECTED) == 0

    page.goto(stack.base + "/#/jobs")
    expect(page.locator("#jobs tbody")).to_contain_text(path.name)
    assert page.evaluate(INJECTED) == 0

    # A table whose cells are the payload: its grid drawn, its HTML table showing the text.
    rows = [row[:] for row in RULED_ROWS]
    rows[1][3] = rows[3][0] = PAYLOAD
    ruled_table_pdf(tmp_path / "cells.pdf", rows)
    fields = {"outputs": "blocks,markdown,tables"}
    body, content_type = multipart(
        (tmp_path / "cells.pdf").read_bytes(), "cells.pdf", fields=fields
    )
    status, job, _ = stack.request("POST", "/api/v1/pdf/documents", body, content_type)
    assert status == 202, job
    stack.wait([job["id"]])
    [table] = tables_of(stack, job["id"])
    assert [cell["text"] for cell in table["rows"][3]][0] == PAYLOAD  # pdfq found it as text
    page.goto(f"{stack.base}/#/view/{job['id']}")
    expect(viewer.locator(".sheet")).to_be_visible()  # the text again, not the last Markdown
    expect(viewer.locator(".sheet")).to_have_attribute("data-loaded", "true")
    expect(viewer.locator("svg.blocks rect.cell")).not_to_have_count(0)
    html = viewer.get_by_role("table", name="Table 1")
    expect(html.locator("thead")).to_contain_text(PAYLOAD)
    expect(html.locator("tbody")).to_contain_text(PAYLOAD)
    viewer.get_by_role("button", name="Markdown", exact=True).click()
    md = viewer.locator(".md-view table")
    expect(md.locator("td").filter(has_text=PAYLOAD)).to_have_count(1)  # a cell, as text
    expect(md.locator("th").filter(has_text=PAYLOAD)).to_have_count(1)
    assert page.evaluate(INJECTED) == 0
    assert page.evaluate("window.__xss") is None
