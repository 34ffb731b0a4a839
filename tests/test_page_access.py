"""The upload page for every way of reaching it, in Debian's Chromium against the real stack
(as in test_page.py): a phone (narrow, touch: words for tapping), the keyboard alone, a
screen reader (labels, names, a live region), and a load that asks for nothing missing.
"""

import pytest
from pdfminer.high_level import extract_text
from playwright.sync_api import expect

from tests.support.browser import card, catch_file_choosers, page_stack, screenshot, settled
from tests.support.corpus import GOOD

pytestmark = pytest.mark.browser

PATH = GOOD / "pdfminer_dmca.pdf"
# Form controls that no label, aria-label or aria-labelledby names.
UNNAMED = """() => [...document.querySelectorAll("input, select, button, progress, textarea")]
  .filter((node) => !node.closest("template"))
  .filter((node) => !(node.labels && node.labels.length) && !node.getAttribute("aria-label")
                    && !node.getAttribute("aria-labelledby") && !node.textContent.trim())
  .map((node) => node.outerHTML)"""


@pytest.fixture(scope="module")
def stack(redis_server, moto_server, tmp_path_factory):
    stack = page_stack(redis_server.url, moto_server, tmp_path_factory.mktemp("page-access"))
    yield stack
    stack.stop()


def test_on_a_phone_the_page_says_tap_and_a_tap_picks_files(stack, browser):
    context = browser.new_context(
        viewport={"width": 390, "height": 700}, is_mobile=True, has_touch=True
    )
    phone = context.new_page()
    catch_file_choosers(phone)
    phone.goto(stack.base + "/")
    expect(phone.get_by_text("Tap to choose PDFs")).to_be_visible()
    expect(phone.get_by_text("Drop PDFs here")).to_be_hidden()
    with phone.expect_file_chooser() as chooser:
        phone.tap("#drop")
    chooser.value.set_files(PATH)
    done = card(phone, PATH.name)
    settled(done, "succeeded")
    screenshot(phone, "phone")
    context.close()


def test_with_a_mouse_the_page_says_drop(stack, page):
    page.goto(stack.base + "/")
    expect(page.get_by_text("Drop PDFs here")).to_be_visible()
    expect(page.get_by_text("Tap to choose PDFs")).to_be_hidden()


def test_the_page_loads_with_its_icon_and_nothing_missing(stack, page):
    answers = []
    page.on("response", lambda response: answers.append((response.url, response.status)))
    page.goto(stack.base + "/")
    page.wait_for_load_state("networkidle")
    assert [a for a in answers if a[1] >= 400] == []
    icon = page.locator("link[rel=icon]").get_attribute("href")
    for path in (icon, "/favicon.ico"):  # the link, and where tools look without one
        status, body, headers = stack.request("GET", path)
        assert (status, headers["Content-Type"]) == (200, "image/svg+xml; charset=utf-8")
        assert body.startswith("<svg")


def test_the_keyboard_alone_adds_a_file_and_a_screen_reader_hears_the_outcome(stack, page):
    page.goto(stack.base + "/")
    assert page.evaluate(UNNAMED) == []
    expect(page.locator("#announce")).to_have_attribute("aria-live", "polite")

    # The views (upload, jobs, operations), then the token, the options, the files.
    for expected in ("A", "A", "A", "token", None, "pick"):
        page.keyboard.press("Tab")
        focused = page.evaluate("document.activeElement.id || document.activeElement.tagName")
        assert focused == (expected or "SUMMARY")
    screenshot(page.locator("#drop"), "keyboard")  # the zone shows where the focus is
    assert page.locator("#drop").evaluate("n => getComputedStyle(n).outlineStyle") == "solid"
    with page.expect_file_chooser() as chooser:
        page.keyboard.press("Enter")
    chooser.value.set_files(PATH)

    done = card(page, PATH.name)
    settled(done, "succeeded")
    expect(page.locator("#announce")).to_have_text(f"{PATH.name}: Done.")
    assert page.evaluate(UNNAMED) == []
    # Each card is a list item named by its file; its controls and text say which file.
    expect(page.get_by_role("listitem", name=PATH.name)).to_have_count(1)
    expect(done.get_by_role("status")).to_have_text("Done.")
    expect(done.get_by_role("progressbar", name=f"Upload of {PATH.name}")).to_be_visible()
    text = done.get_by_role("region", name=f"Text of {PATH.name}")
    assert "\f".join(text.locator("pre").all_text_contents()) + "\f" == extract_text(PATH)

    # From the zone, Tab reaches the card's controls, and its text scrolls by keyboard.
    page.keyboard.press("Tab")
    expect(done.get_by_role("button", name=f"Remove {PATH.name}")).to_be_focused()
    for _ in range(3):  # past the download and the copy
        page.keyboard.press("Tab")
    expect(done.get_by_role("button", name=f"Markdown of {PATH.name}")).to_be_focused()
    page.keyboard.press("Tab")
    expect(done.get_by_role("link", name=f"Open {PATH.name} in the viewer")).to_be_focused()
    page.keyboard.press("Tab")
    expect(text).to_be_focused()
    page.keyboard.press("Enter")  # nothing to activate; the region keeps the focus
    done.get_by_role("button", name=f"Remove {PATH.name}").focus()
    page.keyboard.press("Enter")
    expect(card(page, PATH.name)).to_have_count(0)
    expect(page.locator("#pick")).to_be_focused()  # the focus is not lost with the card
