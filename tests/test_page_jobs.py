"""What a person does with a file's card on the upload page, in Debian's Chromium against the
real stack (as in test_page.py): open an encrypted PDF with its password, cancel, try a
failed file again, copy the text, choose options, see a scan said as such, ride out a
network blip, and find the cards again after a reload.
"""

import json
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from pdfminer.high_level import extract_text
from playwright.sync_api import expect

from tests.support.browser import card, drop, dropped_and_done, page_stack, screenshot, settled
from tests.support.corpus import BAD, GOOD

pytestmark = pytest.mark.browser

ENCRYPTED, PASSWORD = BAD / "pdfminer_aes-256-r6.pdf", "usersecret"
SCAN = BAD / "pymupdf_test_4034.pdf"  # office-scanner output, 2 pages, no text layer


@pytest.fixture(scope="module")
def stack(redis_server, moto_server, tmp_path_factory):
    stack = page_stack(
        redis_server.url,
        moto_server,
        tmp_path_factory.mktemp("page-jobs"),
        OPTIONS_SECRET="page-tests-options-secret",  # passwords are stored encrypted with it
        OCR_DEFAULT="off",  # the scan stays a scan: the page must say it has no text
    )
    yield stack
    stack.stop()


@pytest.fixture
def no_worker(stack):
    """No worker runs until the test restarts it (`stack.start("worker")`): jobs stay queued."""
    stack.procs["worker"].stop()
    yield stack
    if not stack.procs["worker"].alive():
        stack.start("worker")


def pages_of(done) -> list[str]:
    return done.locator(".text pre").all_text_contents()


def test_an_encrypted_pdf_asks_for_its_password_and_opens_with_it(stack, page):
    page.goto(stack.base + "/")
    drop(page, ENCRYPTED)
    locked = card(page, ENCRYPTED.name)
    settled(locked, "failed")
    assert locked.get_attribute("data-error") == "encrypted"
    assert "enter it" in locked.locator(".error").inner_text()
    field = locked.get_by_label("Password for this PDF")
    expect(field).to_be_focused()  # the way forward, where the keyboard already is
    expect(locked.get_by_role("button", name=f"Try again {ENCRYPTED.name}")).to_be_hidden()

    field.fill("not-the-password")
    field.press("Enter")
    expect(locked.locator(".error")).to_have_text(
        "That password did not open this PDF: try another.", timeout=60_000
    )
    screenshot(locked, "password")

    field.fill(PASSWORD)
    locked.get_by_role("button", name="Open it").click()
    settled(locked, "succeeded")
    assert "".join(pages_of(locked)) + "\f" == extract_text(ENCRYPTED, password=PASSWORD)
    job = stack.job(locked.get_attribute("data-job-id"))
    assert job["options"]["password"] is True  # the same job, run again with the password
    assert job["attempts"] == 3


def test_a_queued_file_is_canceled_and_can_be_started_again(no_worker, page):
    stack, path = no_worker, GOOD / "pdfminer_dmca.pdf"
    page.goto(stack.base + "/")
    drop(page, path)
    waiting = card(page, path.name)
    expect(waiting).to_have_attribute("data-state", "queued", timeout=30_000)
    job_id = waiting.get_attribute("data-job-id")

    waiting.get_by_role("button", name=f"Cancel {path.name}").click()
    settled(waiting, "canceled")
    assert waiting.locator(".status").inner_text() == "Canceled."
    assert stack.job(job_id)["status"] == "canceled"
    screenshot(waiting, "canceled")

    waiting.get_by_role("button", name=f"Try again {path.name}").click()
    expect(waiting).to_have_attribute("data-state", "queued")
    stack.start("worker")
    settled(waiting, "succeeded")
    assert waiting.get_attribute("data-job-id") == job_id  # reprocessed, not uploaded again
    assert pages_of(waiting) == extract_text(path).split("\f")[:-1]


def test_a_file_being_extracted_is_canceled_at_its_next_page(stack, page):
    path = GOOD / "pdfminer_i1040nr.pdf"  # 50 pages: seconds of extraction
    page.goto(stack.base + "/")
    drop(page, path)
    running = card(page, path.name)
    expect(running).to_have_attribute("data-state", "processing", timeout=30_000)
    job_id = running.get_attribute("data-job-id")
    stack.wait_until(job_id, lambda job: (job["pages_done"] or 0) >= 1)

    running.get_by_role("button", name=f"Cancel {path.name}").click()
    settled(running, "canceled")
    assert running.locator(".status").inner_text() == "Canceled."
    job = stack.job(job_id)
    assert job["status"] == "canceled" and job["pages_done"] < 50, job
    expect(running.get_by_role("button", name=f"Try again {path.name}")).to_be_visible()


def test_a_file_that_failed_to_start_is_tried_again(stack, page):
    path = GOOD / "pdfminer_dmca.pdf"
    refused = []

    def once(route):
        if not refused and route.request.method == "POST":
            refused.append(route.request.url)
            return route.abort("internetdisconnected")
        return route.continue_()

    page.goto(stack.base + "/")
    page.route("**/api/v1/pdf/uploads", once)
    drop(page, path)
    failed = card(page, path.name)
    settled(failed, "failed")
    assert failed.get_attribute("data-error") == "network"
    assert failed.get_attribute("data-job-id") is None
    screenshot(failed, "retry")

    failed.get_by_role("button", name=f"Try again {path.name}").click()
    settled(failed, "succeeded")
    assert len(refused) == 1
    assert pages_of(failed) == extract_text(path).split("\f")[:-1]


def test_the_text_is_copied_to_the_clipboard(stack, browser):
    context = browser.new_context()
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=stack.base)
    page = context.new_page()
    path = GOOD / "pdfminer_dmca.pdf"
    page.goto(stack.base + "/")
    done = dropped_and_done(page, path)
    copy = done.get_by_role("button", name=f"Copy the text of {path.name}")
    copy.click()
    expect(copy).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == extract_text(path)
    context.close()


def test_the_options_chosen_go_with_the_next_files(stack, page):
    path = GOOD / "pdfminer_dmca.pdf"
    sent = []
    page.on("request", lambda request: sent.append(request))
    page.goto(stack.base + "/")
    page.get_by_text("Options for the next files").click()
    page.get_by_label("Engine").select_option("pdfium")
    page.get_by_label("Pages").fill("2-3")
    screenshot(page.locator("#options"), "options")
    done = dropped_and_done(page, path)

    [create] = [r for r in sent if urlsplit(r.url).path == "/api/v1/pdf/uploads"]
    body = json.loads(create.post_data)
    assert (body["engine"], body["pages"]) == ("pdfium", "2-3")
    job_id = done.get_attribute("data-job-id")
    _, result, _ = stack.request("GET", f"/api/v1/pdf/jobs/{job_id}/result?format=json")
    assert result["engine"] == "pypdfium2"  # results name the package the engine runs on
    assert [p["page"] for p in result["pages"]] == [2, 3]
    assert pages_of(done) == [p["text"] for p in result["pages"]]

    # The password option opens an encrypted PDF at once.
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Pages").fill("")
    page.get_by_label("Engine").select_option("")  # the service's default: pdfminer
    drop(page, ENCRYPTED)
    opened = card(page, ENCRYPTED.name)
    settled(opened, "succeeded")
    assert "".join(pages_of(opened)) + "\f" == extract_text(ENCRYPTED, password=PASSWORD)


def test_a_scan_without_a_text_layer_says_so_instead_of_done(stack, page):
    page.goto(stack.base + "/")
    drop(page, SCAN)
    scan = card(page, SCAN.name)
    settled(scan, "succeeded")
    assert scan.get_attribute("data-warning") == "no_text_layer"
    status = scan.locator(".status").inner_text()
    assert "scanned image" in status and "OCR" in status and "Done" not in status
    assert "2 pages" in scan.locator(".summary").inner_text()
    expect(scan.get_by_role("button", name=f"Copy the text of {SCAN.name}")).to_be_hidden()
    border = scan.evaluate("node => getComputedStyle(node).borderLeftColor")
    assert border != "rgb(43, 138, 62)"  # not the green of a file whose text came out
    screenshot(scan, "scanned")


def test_following_a_job_survives_a_network_blip(stack, page):
    path = GOOD / "pdfminer_dmca.pdf"
    page.goto(stack.base + "/")
    # Its events and its status alike: the card falls back from the stream to polling, which
    # backs off while pdfq cannot be reached.
    page.route("**/api/v1/pdf/jobs/**", lambda route: route.abort("internetdisconnected"))
    drop(page, path)
    following = card(page, path.name)
    expect(following).to_have_attribute("data-reconnecting", "true", timeout=30_000)
    expect(following.locator(".status")).to_contain_text("cannot be reached; trying again")
    expect(following.locator(".status")).to_contain_text("trying again in 2 s")  # backing off
    screenshot(following, "reconnecting")

    page.unroute("**/api/v1/pdf/jobs/**")
    settled(following, "succeeded")
    assert following.get_attribute("data-reconnecting") is None
    assert pages_of(following) == extract_text(path).split("\f")[:-1]


def test_the_cards_come_back_after_a_reload(no_worker, page):
    stack, path = no_worker, GOOD / "pdfjs_tracemonkey.pdf"
    page.goto(stack.base + "/")
    drop(page, path)
    before = card(page, path.name)
    expect(before).to_have_attribute("data-state", "queued", timeout=30_000)
    job_id = before.get_attribute("data-job-id")

    page.reload()
    again = card(page, path.name)
    expect(again).to_have_attribute("data-job-id", job_id)
    expect(again).to_have_attribute("data-state", "queued")
    stack.start("worker")
    settled(again, "succeeded")
    assert pages_of(again) == extract_text(path).split("\f")[:-1]
    kept = page.evaluate("JSON.parse(localStorage.getItem('pdfq.jobs'))")
    assert kept == [{"id": job_id, "name": path.name, "size": path.stat().st_size}]

    page.reload()
    settled(card(page, path.name), "succeeded")  # a finished card comes back with its text
    card(page, path.name).get_by_role("button", name=f"Remove {path.name}").click()
    page.reload()
    expect(card(page, path.name)).to_have_count(0)
    assert page.evaluate("localStorage.getItem('pdfq.jobs')") == "[]"


def test_a_reload_between_upload_and_completion_still_completes_the_job(stack, page):
    path = GOOD / "pdfminer_dmca.pdf"
    held = []
    page.goto(stack.base + "/")
    page.route("**/api/v1/pdf/uploads/*/complete", lambda route: held.append(route))  # unanswered
    drop(page, path)
    # Uploaded to storage, its completion held: the page would say it waits for a worker.
    expect(card(page, path.name)).to_have_attribute("data-state", "queued")
    job_id = card(page, path.name).get_attribute("data-job-id")
    assert stack.job(job_id)["status"] == "awaiting_upload"

    page.unroute("**/api/v1/pdf/uploads/*/complete")
    page.reload()
    again = card(page, path.name)
    settled(again, "succeeded")
    assert again.get_attribute("data-job-id") == job_id
    assert pages_of(again) == extract_text(path).split("\f")[:-1]


def test_a_reload_during_an_upload_asks_for_the_file_again(stack, page):
    path = GOOD / "pdfminer_dmca.pdf"
    page.goto(stack.base + "/")
    # The presigned POST never leaves: storage gets nothing, as when a reload cuts an upload.
    page.route(stack.env["S3_PUBLIC_ENDPOINT_URL"] + "/**", lambda route: None)
    drop(page, path)
    uploading = card(page, path.name)
    expect(uploading).to_have_attribute("data-state", "uploading")
    job_id = uploading.get_attribute("data-job-id")

    page.reload()
    again = card(page, path.name)
    settled(again, "failed")
    assert again.get_attribute("data-error") == "interrupted"
    assert "add it again" in again.locator(".error").inner_text()
    assert stack.job(job_id)["status"] == "canceled"  # it no longer counts in flight


def test_the_markdown_is_shown_and_offered_as_a_download(stack, page):
    path = GOOD / "pdfjs_tracemonkey.pdf"
    page.goto(stack.base + "/")
    done = dropped_and_done(page, path)

    toggle = done.get_by_role("button", name=f"Markdown of {path.name}")
    toggle.click()
    shown = done.locator(".md")
    expect(shown).to_be_visible()
    job_id = done.get_attribute("data-job-id")
    status, markdown, _ = stack.request("GET", f"/api/v1/pdf/jobs/{job_id}/result?format=markdown")
    assert status == 200 and "<!-- page 1 -->" in markdown and "\n# " in "\n" + markdown
    assert shown.inner_text().strip() == markdown.strip()
    with page.expect_download() as saved:
        done.locator(".download-md").click()
    assert saved.value.suggested_filename == "pdfjs_tracemonkey.md"
    assert Path(saved.value.path()).read_text(encoding="utf-8") == markdown
    expect(toggle).to_have_attribute("aria-pressed", "true")
    screenshot(done, "markdown")

    toggle.click()  # and back to the text
    expect(done.locator(".text")).to_be_visible()
    expect(shown).to_be_hidden()
    expect(toggle).to_have_attribute("aria-pressed", "false")
