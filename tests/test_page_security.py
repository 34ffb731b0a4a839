"""The upload page under its Content-Security-Policy, with an API token, in Debian's Chromium
against the real stack (as in test_page.py): it uploads to storage on another origin with no
CSP violation, sends the token to pdfq and never to storage, downloads the text through a Blob
URL (a link to the API could not carry the token), and says each refusal in plain words.
"""

import re
from urllib.parse import urlsplit

import pytest
from pdfminer.high_level import extract_text
from playwright.sync_api import expect

from tests.support.browser import RECORD_VIOLATIONS, card, drop, dropped_and_done, settled
from tests.support.corpus import GOOD
from tests.support.servers import free_port
from tests.support.stack import Stack

pytestmark = pytest.mark.browser

TOKEN = "pdfq-test-" + "k3y" * 12  # 46 characters


@pytest.fixture(scope="module")
def stack(redis_server, moto_server, tmp_path_factory):
    port = free_port()
    stack = Stack(
        redis_server.url,
        moto_server,
        tmp_path_factory.mktemp("page-security"),
        port=port,
        CORS_ORIGINS=f"http://127.0.0.1:{port}",
        # Another host name than the page's: the upload is cross-origin, as in production.
        S3_PUBLIC_ENDPOINT_URL=moto_server.replace("127.0.0.1", "localhost"),
        API_TOKENS=f"acme:{TOKEN}",
        PDFQ_ENV="development",
    )
    yield stack
    stack.stop()


@pytest.fixture
def page(browser):
    """A fresh page (in place of conftest's) that records CSP violations and console lines,
    and accepts downloads."""
    context = browser.new_context(accept_downloads=True)
    page = context.new_page()
    page.add_init_script(RECORD_VIOLATIONS)
    page.console = []
    page.on("console", lambda message: page.console.append(message.text))
    yield page
    context.close()


def violations(page) -> list[str]:
    reported = page.evaluate("window.cspViolations")
    return reported + [m for m in page.console if "Content Security Policy" in m]


def test_the_page_uploads_with_its_token_under_its_csp_without_a_violation(stack, page):
    path = GOOD / "pdfminer_dmca.pdf"
    sent = []
    page.on("request", lambda request: sent.append(request))
    page.goto(stack.base + "/")
    page.fill("#token", TOKEN)
    done = dropped_and_done(page, path)
    assert violations(page) == []
    storage = urlsplit(stack.env["S3_PUBLIC_ENDPOINT_URL"])
    [upload] = [r for r in sent if urlsplit(r.url).netloc == storage.netloc]
    assert upload.method == "POST" and upload.response().status == 204  # cross-origin, allowed

    # The token went with every call to pdfq, and never to storage.
    # (The public contract, which lists the engines, is read as the page loads, before a token.)
    to_api = [
        r
        for r in sent
        if urlsplit(r.url).path.startswith("/api/v1/pdf/")
        and urlsplit(r.url).path != "/api/v1/pdf/openapi.json"
    ]
    assert len(to_api) >= 3
    assert {r.headers.get("authorization") for r in to_api} == {f"Bearer {TOKEN}"}
    assert "authorization" not in upload.headers

    # The download is the text itself, from a Blob URL, not a link the token cannot follow.
    link = done.locator(".download")
    assert link.get_attribute("href").startswith("blob:")
    with page.expect_download() as download:
        link.click()
    assert download.value.suggested_filename == "pdfminer_dmca.txt"
    with open(download.value.path(), encoding="utf-8") as fp:
        assert fp.read() == extract_text(path)
    assert violations(page) == []

    # The listener works: anything else the page tried to reach would be refused and reported.
    page.evaluate("fetch('http://127.0.0.1:9/').catch(() => null)")
    page.wait_for_function("window.cspViolations.length > 0")
    assert violations(page)[0].startswith("connect-src http://127.0.0.1:9")


def test_the_token_stays_for_the_tab_only(stack, browser):
    context = browser.new_context()
    page = context.new_page()
    page.goto(stack.base + "/")
    page.fill("#token", f"  {TOKEN}\n")
    page.reload()
    assert page.input_value("#token") == TOKEN  # kept (trimmed) across a reload of the tab
    assert page.evaluate("localStorage.length") == 0  # never on disk for other tabs
    other = context.new_page()  # a new tab starts with its own, empty sessionStorage
    other.goto(stack.base + "/")
    assert other.input_value("#token") == ""
    context.close()


@pytest.mark.parametrize(
    ("entered", "code", "words"),
    [
        ("", "unauthorized", "needs an API token"),
        ("wrong-" + "x" * 40, "invalid_token", "did not accept"),
    ],
)
def test_a_missing_or_wrong_token_asks_for_the_right_one(stack, page, entered, code, words):
    path = GOOD / "pdfminer_jo.pdf"
    page.goto(stack.base + "/")
    page.fill("#token", entered)
    drop(page, path)
    refused = card(page, path.name)
    settled(refused, "failed", timeout=30_000)
    assert refused.get_attribute("data-error") == code
    assert words in refused.locator(".error").inner_text()
    assert "API token" in refused.locator(".error").inner_text()
    expect(page.locator("#token-box")).to_have_class(re.compile("wanted"))
    assert refused.get_attribute("data-job-id") is None  # nothing was created


@pytest.mark.parametrize(
    ("status", "code", "words"),
    [
        (401, "unauthorized", "needs an API token"),
        (401, "invalid_token", "did not accept this API token"),
    ],
)
def test_each_refusal_of_the_token_is_said_in_plain_words(stack, page, status, code, words):
    # The API's refusal, played by the browser: the page's side alone.
    answer = {"error": {"code": code, "message": "(the API's own words)"}}
    page.route("**/api/v1/pdf/uploads", lambda route: route.fulfill(status=status, json=answer))
    path = GOOD / "pdfminer_jo.pdf"
    page.goto(stack.base + "/")
    drop(page, path)
    refused = card(page, path.name)
    settled(refused, "failed", timeout=30_000)
    assert refused.get_attribute("data-error") == code
    assert words in refused.locator(".error").inner_text()
    expect(page.locator("#token-box.wanted")).to_have_count(1)


@pytest.mark.parametrize(
    ("status", "code", "words"),
    [(429, "too_many_jobs", "other files in progress come first"), (503, "queue_full", "busy")],
)
def test_a_busy_pdfq_makes_the_file_wait_its_retry_after(stack, page, status, code, words):
    # Refused twice, then let through: the file waits pdfq's Retry-After each time.
    answer = {"error": {"code": code, "message": "(the API's own words)"}}
    refusals = []

    def busy(route):
        if route.request.method == "POST" and len(refusals) < 2:
            refusals.append(route.request.url)
            return route.fulfill(status=status, json=answer, headers={"Retry-After": "1"})
        return route.continue_()

    page.route("**/api/v1/pdf/uploads", busy)
    path = GOOD / "pdfminer_jo.pdf"
    page.goto(stack.base + "/")
    page.fill("#token", TOKEN)
    drop(page, path)
    waiting = card(page, path.name)
    expect(waiting).to_have_attribute("data-state", "waiting")
    expect(waiting.locator(".status")).to_contain_text(words)
    settled(waiting, "succeeded")
    assert len(refusals) == 2
    expect(page.locator("#token-box.wanted")).to_have_count(0)
