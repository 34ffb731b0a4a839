"""The upload page follows its jobs through their Server-Sent Events (functions/static/
events.js reading GET /jobs/{id}/events with fetch, the token in its header) in a real browser
against the real stack, reconnecting at each stream's window with Last-Event-ID, and falls
back to polling GET /jobs/{id} when the stream fails, is refused or is cut before its end."""

import re

import pytest
from playwright.sync_api import expect

from tests.support.browser import card, drop, page_stack, screenshot, settled
from tests.support.made_pdfs import numbered_pdf

pytestmark = pytest.mark.browser

TOKEN = "pdfq-events-" + "e7t" * 12
WINDOW = 2  # seconds a stream lasts: a long job's card reconnects during the test
EVENTS = re.compile(r"/api/v1/pdf/jobs/[0-9a-f]+/events$")
STATUS = re.compile(r"/api/v1/pdf/jobs/[0-9a-f]+$")
# A stream as a proxy that cuts it might leave it: pdfq's first events, then the end of the
# body, no `end` event.
CUT = 'retry: 1000\n\nid: 1.0\nevent: status\ndata: {"at": "x", "status": "queued"}\n\n'


@pytest.fixture(scope="module")
def stack(redis_server, moto_server, tmp_path_factory):
    stack = page_stack(
        redis_server.url,
        moto_server,
        tmp_path_factory.mktemp("events"),
        API_TOKENS=f"acme:{TOKEN}",
        EVENTS_WINDOW_SECONDS=str(WINDOW),
        PDFQ_ENV="development",
    )
    stack.token = TOKEN
    yield stack
    stack.stop()


def signed_in(page, stack):
    page.goto(stack.base + "/")
    page.get_by_label("API token").fill(TOKEN)


def recorded(page) -> list:
    """Every request the page makes from now on."""
    requests = []
    page.on("request", lambda request: requests.append(request))
    return requests


def test_a_card_follows_its_job_through_events_and_reconnects_with_the_last_event_id(
    stack, page, tmp_path
):
    path = tmp_path / "long.pdf"
    path.write_bytes(numbered_pdf(1, pages=240, lines=40))  # seconds of work: windows pass
    requests = recorded(page)
    signed_in(page, stack)
    drop(page, path)
    done = card(page, path.name)
    # The pages come in through the stream, the extraction bar moving with them.
    expect(done).to_have_attribute("data-live", "events")
    expect(done.locator(".status")).to_have_text(re.compile(r"Extracting: page \d+ of 240"))
    screenshot(done, "live")
    settled(done, "succeeded", timeout=120_000)
    expect(done.locator(".text")).to_contain_text("Document number 1")

    job_id = done.get_attribute("data-job-id")
    streams = [r for r in requests if EVENTS.search(r.url)]
    assert streams and all(job_id in r.url for r in streams)
    first, *again = [r.all_headers() for r in streams]
    assert first["authorization"] == f"Bearer {TOKEN}" and "last-event-id" not in first
    # Each stream lasted its window; the next one said what the page had seen.
    assert again, "the job outlasted a window: the page should have reconnected"
    seen = [headers["last-event-id"] for headers in again]
    assert all(re.fullmatch(r"\d+\.\d+", value) for value in seen), seen
    assert seen == sorted(seen, key=lambda v: tuple(map(int, v.split(".")))), seen
    # The stream alone brought the card to its end: the job's status was never polled.
    assert not [r for r in requests if r.method == "GET" and STATUS.search(r.url)]


@pytest.mark.parametrize(
    "failure",
    ["aborted", "502", "not an event stream", "cut before its end"],
)
def test_a_card_reaches_done_by_polling_when_the_events_fail(stack, page, tmp_path, failure):
    def refuse(route):
        if failure == "aborted":
            route.abort("connectionreset")
        elif failure == "502":
            route.fulfill(status=502, content_type="text/html", body="<h1>Bad gateway</h1>")
        elif failure == "not an event stream":
            route.fulfill(status=200, content_type="application/json", body="{}")
        else:
            route.fulfill(status=200, content_type="text/event-stream", body=CUT)

    page.route(EVENTS, refuse)
    number = 100 + ["aborted", "502", "not an event stream", "cut before its end"].index(failure)
    path = tmp_path / f"polled-{number}.pdf"
    path.write_bytes(numbered_pdf(number, pages=3, lines=10))
    errors = []
    page.on("pageerror", lambda error: errors.append(error))
    requests = recorded(page)
    signed_in(page, stack)
    drop(page, path)
    done = card(page, path.name)
    settled(done, "succeeded")
    expect(done.locator(".text")).to_contain_text(f"Document number {number}")
    job_id = done.get_attribute("data-job-id")
    assert [r for r in requests if EVENTS.search(r.url) and job_id in r.url]
    polls = [r for r in requests if r.method == "GET" and STATUS.search(r.url)]
    assert polls and all(job_id in r.url for r in polls)
    assert errors == []
