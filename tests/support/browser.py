"""The upload page in Debian's Chromium through Playwright (never a browser of its own):
the browser to launch, and what a person does on the page (drop a file, read its card)."""

import base64
import os
import re
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright

from tests.support.servers import free_port
from tests.support.stack import Stack

CHROMIUM = Path("/usr/bin/chromium")
# Screenshots the tests take for docs/page.md.
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "img"
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
# Every CSP violation the page sees, as the browser reports it to the page itself.
RECORD_VIOLATIONS = """
window.cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.cspViolations.push(`${event.violatedDirective} ${event.blockedURI}`);
});
"""


def page_stack(redis_url: str, s3_url: str, folder: Path, **settings: str) -> Stack:
    """The Procfile stack as the page meets it in production: the page on one origin, storage
    on another (the public name `localhost` for the S3 server the web reaches at 127.0.0.1),
    the bucket's CORS rules listing the page's origin."""
    port = free_port()
    return Stack(
        redis_url,
        s3_url,
        folder,
        port=port,
        CORS_ORIGINS=f"http://127.0.0.1:{port}",
        S3_PUBLIC_ENDPOINT_URL=s3_url.replace("127.0.0.1", "localhost"),
        **settings,
    )


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


def catch_file_choosers(page) -> None:
    """Have Playwright catch the page's file choosers from now on. Playwright turns that on
    with a message it does not wait for, so `expect_file_chooser` alone can lose the race with
    the key or tap that opens the chooser, and headless Chromium then cancels it as if the
    person closed it. A listener added before the page loads has long taken effect."""
    page.on("filechooser", lambda chooser: None)


@contextmanager
def new_page(browser):
    """A fresh page that records upload progress events in window.uploadProgress."""
    context = browser.new_context()
    page = context.new_page()
    catch_file_choosers(page)
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


def dropped_and_done(page, path: Path):
    """Drop the file on the zone and wait until its card says it succeeded; the card."""
    drop(page, path)
    done = card(page, path.name)
    settled(done, "succeeded")
    return done


def card(page, name: str):
    return page.locator("li.file", has=page.locator(".name", has_text=name))


def settled(card, state: str, timeout: float = 60_000):
    """Wait until the file's card is done, then check it ended in `state`."""
    finished = re.compile("succeeded|failed|canceled")
    expect(card).to_have_attribute("data-state", finished, timeout=timeout)
    error = card.get_attribute("data-error")
    assert card.get_attribute("data-state") == state, (error, card.locator(".error").inner_text())


def screenshot(target, name: str) -> Path:
    """Write docs/img/page-<name>.png from a page or an element, for docs/page.md; the file is
    rewritten only when the picture changed, so a test run leaves the tree clean."""
    # Short text boxes keep the pictures small (CSSOM: allowed under the page's CSP).
    shorten = "n => n.querySelectorAll('.text').forEach(b => { b.style.maxHeight = '7rem'; })"
    if hasattr(target, "locator") and not hasattr(target, "goto"):
        target.evaluate(shorten)
    else:
        target.evaluate(f"({shorten})(document)")
    picture = target.screenshot(animations="disabled", caret="hide")
    path = SCREENSHOTS / f"page-{name}.png"
    if not path.exists() or path.read_bytes() != picture:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(picture)
    return path
