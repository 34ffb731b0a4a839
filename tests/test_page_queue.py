"""Many files at once on the upload page, in Debian's Chromium against the real stack (as in
test_page.py) with TENANT_MAX_JOBS_IN_FLIGHT=2: a few files start at a time, the rest wait
their turn, and files past the tenant's limit wait for pdfq's Retry-After instead of failing.
"""

from urllib.parse import urlsplit

import pytest
from pdfminer.high_level import extract_text
from playwright.sync_api import expect

from tests.support.browser import card, page_stack, screenshot, settled
from tests.support.corpus import GOOD

pytestmark = pytest.mark.browser

FILES = [
    GOOD / name
    for name in (
        "pdfminer_dmca.pdf",
        "pdfminer_asw-oct96-p41.pdf",
        "pymupdf_small-table.pdf",
        "pdfminer_sap-invoice-filters.pdf",
        "pdfminer_pagelabels.pdf",
        "pymupdf_test_4670.pdf",
    )
]
# The most cards at once in a state that holds one of the page's upload slots.
RECORD_STARTED = """
window.peakStarting = 0;
new MutationObserver(() => {
  const now = document.querySelectorAll(
    'li.file[data-state="checking"], li.file[data-state="uploading"]').length;
  window.peakStarting = Math.max(window.peakStarting, now);
}).observe(document, { subtree: true, attributes: true, attributeFilter: ["data-state"] });
"""


@pytest.fixture(scope="module")
def stack(redis_server, moto_server, tmp_path_factory):
    stack = page_stack(
        redis_server.url,
        moto_server,
        tmp_path_factory.mktemp("page-queue"),
        TENANT_MAX_JOBS_IN_FLIGHT="2",
    )
    yield stack
    stack.stop()


def test_files_past_the_limits_wait_their_turn_instead_of_failing(stack, page):
    created = []
    page.on(
        "response",
        lambda r: created.append(r) if urlsplit(r.url).path == "/api/v1/pdf/uploads" else None,
    )
    page.add_init_script(RECORD_STARTED)
    page.goto(stack.base + "/")
    page.set_input_files("#pick", FILES)

    # Past the tenant's limit, a file waits for the Retry-After pdfq gave, and says so.
    waiting = page.locator("li.file[data-state=waiting]", has_text="come first")
    expect(waiting.first).to_be_visible(timeout=30_000)
    screenshot(waiting.first, "waiting")

    for path in FILES:
        done = card(page, path.name)
        settled(done, "succeeded", timeout=180_000)
        assert done.locator(".text pre").all_text_contents() == extract_text(path).split("\f")[:-1]
    refused = [r for r in created if r.status == 429]
    assert refused and all(r.headers["retry-after"] == "10" for r in refused)
    assert len([r for r in created if r.status == 201]) == len(FILES)  # one job each, no more
    assert page.evaluate("window.peakStarting") <= 3  # the page's own bound
