"""The upload page in Debian's Chromium through Playwright (never a browser of its own):
the browser to launch, and what a person does on the page (drop a file, read its card)."""

import base64
import os
import re
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright

CHROMIUM = Path("/usr/bin/chromium")
# As root and on a closed network: no sandbox, and none of Chromium's calls home.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# Records every upload progress event the page receives, to show progress is real.
RECORD_PROGRESS = """
window.uploadProgress = [];
const listen = XMLHttpRequestUpload.prototype.addEventListener;
XMLHttpRequestUpload.prototype.addEventListener = function (type, handler, ...rest) {
  if (type !== "progress") return listen.call(this, type, handler, ...rest);
  return listen.call(this, type, (event) => {
    window.uploadProgress.push([event.loaded, event.total]);
    handler(event);
  }, ...rest);
};
"""


@contextmanager
def launched():
    """Debian's Chromium, headless; skipped (failed on CI) where it is not installed."""
    if not CHROMIUM.exists():
        message = "Chromium is missing: apt-get install chromium (.ci/run does)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    with sync_playwright() as driver:
        chromium = driver.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


@contextmanager
def new_page(browser):
    """A fresh page that records upload progress events in window.uploadProgress."""
    context = browser.new_context()
    page = context.new_page()
    page.add_init_script(RECORD_PROGRESS)
    yield page
    context.close()


def drop(page, path: Path):
    """Drop a file on the zone the way a person does: a drop event carrying the file."""
    transfer = page.evaluate_handle(
        """([name, b64]) => {
            const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
            const transfer = new DataTransfer();
            transfer.items.add(new File([bytes], name, { type: "application/pdf" }));
            return transfer;
        }""",
        [path.name, base64.b64encode(path.read_bytes()).decode()],
    )
    page.dispatch_event("#drop", "dragover", {"dataTransfer": transfer})
    page.dispatch_event("#drop", "drop", {"dataTransfer": transfer})


def card(page, name: str):
    return page.locator("li.file", has=page.locator(".name", has_text=name))


def settled(card, state: str, timeout: float = 60_000):
    """Wait until the file's card is done, then check it ended in `state`."""
    finished = re.compile("succeeded|failed")
    expect(card).to_have_attribute("data-state", finished, timeout=timeout)
    error = card.get_attribute("data-error")
    assert card.get_attribute("data-state") == state, (error, card.locator(".error").inner_text())
