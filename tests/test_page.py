"""The upload page in a real browser (Debian's Chromium, driven by Playwright) against the real
stack: gunicorn and huey_consumer from the Procfile, a private redis-server, and moto's S3
server on another origin than the page, reached under another host name (the public endpoint).

moto's server answers CORS preflights by the bucket's CORS rules (set here by provisioning),
and the page always triggers a preflight, because it listens to upload progress. moto does
not put CORS headers on its answer to the upload itself; its server's blanket CORS layer
(flask-cors, on unless MOTO_DISABLE_GLOBAL_CORS is set) does. Real S3 takes both from the
rules. So the rules are what admits or refuses a page here, as on S3: see the last test.
"""

import json
from urllib.parse import urlsplit

import pytest
from pdfminer.high_level import extract_text

from core import keys
from tests.support.browser import card, drop, dropped_and_done, page_stack, screenshot, settled
from tests.support.corpus import BAD, GOOD

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def stack(redis_server, moto_server, tmp_path_factory):
    stack = page_stack(redis_server.url, moto_server, tmp_path_factory.mktemp("browser"))
    yield stack
    stack.stop()


def test_a_dropped_pdf_goes_straight_to_storage_and_its_text_appears(stack, page):
    path = GOOD / "pdfminer_dmca.pdf"
    sent = []
    page.on("request", lambda request: sent.append(request))
    page.goto(stack.base + "/")
    done = dropped_and_done(page, path)
    pages = done.locator(".text pre").all_text_contents()
    assert pages == extract_text(path).split("\f")[:-1]  # every page, exactly
    assert done.locator(".download").get_attribute("href").startswith("blob:")  # the text
    assert "18 pages" in done.locator(".summary").inner_text()
    assert done.locator("progress.extract").evaluate("bar => [bar.value, bar.max]") == [1, 1]

    # The bytes went to storage, under the public name, with real progress events...
    [upload] = [r for r in sent if r.method == "POST" and urlsplit(r.url).hostname == "localhost"]
    assert upload.url == stack.env["S3_PUBLIC_ENDPOINT_URL"] + "/" + stack.env["S3_BUCKET"]
    assert upload.response().status == 204
    progress = page.evaluate("window.uploadProgress")
    assert progress and progress[-1][0] == progress[-1][1] > path.stat().st_size
    job_id = done.get_attribute("data-job-id")
    assert stack.storage().get_bytes(keys.source_key("public", job_id)) == path.read_bytes()
    # ...and never through the web app: it saw only small JSON requests.
    to_web = [r for r in sent if r.url.startswith(stack.base)]
    posts = [urlsplit(r.url).path for r in to_web if r.method == "POST"]
    assert posts == ["/api/v1/pdf/uploads", f"/api/v1/pdf/uploads/{job_id}/complete"]
    assert all(len(r.post_data_buffer or b"") < 1024 for r in to_web)
    access = [json.loads(line) for line in stack.procs["web"].log().splitlines()]
    requests = [(e.get("method"), e.get("path"), e.get("status")) for e in access]
    assert not [r for r in requests if r[1] == "/api/v1/pdf/documents"]
    assert ("POST", f"/api/v1/pdf/uploads/{job_id}/complete", 202) in requests
    assert done.locator(".status").inner_text() == "Done."
    screenshot(done, "done")


def test_several_picked_files_each_get_their_own_progress_and_outcome(stack, page):
    good = GOOD / "pdfjs_tracemonkey.pdf"
    encrypted = BAD / "pdfminer_aes-256-r6.pdf"
    not_pdf = BAD / "text_renamed.pdf"
    page.goto(stack.base + "/")
    page.set_input_files("#pick", [good, encrypted, not_pdf])

    ok = card(page, good.name)
    settled(ok, "succeeded")
    assert ok.locator(".text pre").count() == 14
    assert ok.locator("progress.upload").evaluate("bar => bar.value") == 1

    locked = card(page, encrypted.name)
    settled(locked, "failed")
    assert locked.get_attribute("data-error") == "encrypted"
    assert "protected by a password" in locked.locator(".error").inner_text()

    refused = card(page, not_pdf.name)
    settled(refused, "failed")
    assert refused.get_attribute("data-error") == "not_a_pdf"
    assert refused.locator(".error").inner_text() == "This file is not a PDF."
    assert refused.get_attribute("data-job-id") is None  # refused before any upload


def test_a_page_storage_refuses_sends_its_files_through_pdfq_and_says_so(stack, page):
    # Same server, other origin: localhost is not 127.0.0.1 to a browser, and the bucket's
    # CORS rules list only the latter, so storage refuses the browser's presigned POST.
    first, second = GOOD / "pdfjs_tracemonkey.pdf", GOOD / "pdfminer_jo.pdf"
    sent = []
    page.on("request", lambda request: sent.append(request))
    page.goto(stack.base.replace("127.0.0.1", "localhost") + "/")
    drop(page, first)
    done = card(page, first.name)
    settled(done, "succeeded", timeout=30_000)
    assert done.locator(".text pre").all_text_contents() == extract_text(first).split("\f")[:-1]
    note = done.locator(".note")
    assert "Storage refused" in note.inner_text() and "through pdfq" in note.inner_text()

    # The job storage never got its PDF was canceled (it would count in flight until it
    # expired); the file went to POST /documents instead, under a job of its own.
    [blocked] = [r for r in sent if urlsplit(r.url).path == "/api/v1/pdf/uploads"]
    abandoned = blocked.response().json()["id"]
    assert stack.job(abandoned)["status"] == "canceled"
    job_id = done.get_attribute("data-job-id")
    assert job_id != abandoned
    assert stack.storage().get_bytes(keys.source_key("public", job_id)) == first.read_bytes()
    [direct] = [r for r in sent if urlsplit(r.url).path == "/api/v1/pdf/documents"]
    assert direct.response().status == 202
    screenshot(done, "fallback")

    # The next file goes through pdfq at once, without asking storage again.
    sent.clear()
    drop(page, second)
    settled(card(page, second.name), "succeeded")
    paths = [urlsplit(r.url).path for r in sent if r.method == "POST"]
    assert paths == ["/api/v1/pdf/documents"]
