"""Server-Sent Events (functions/live_events.py): every status of a job in order, progress,
the end; a stream that ends after its window resumes from Last-Event-ID without repeating;
streams bounded per tenant; a batch's progress and end."""

import pytest

from functions import live_events
from tests.support.api import post_pdf as post
from tests.support.corpus import GOOD

PDF = (GOOD / "pdfminer_jo.pdf").read_bytes()
JOBS = "/api/v1/pdf/jobs"


def parse(text: str) -> list[tuple[str, str, str]]:
    """(id, event, data) of each event in a stream's text (the retry hint skipped)."""
    found = []
    for block in text.strip().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        if "event" in fields:
            found.append((fields["id"], fields["event"], fields["data"]))
    return found


@pytest.fixture
def short_window(monkeypatch):
    """Streams of 1 s (EVENTS_WINDOW_SECONDS, set on each test), looking every 0.1 s."""
    monkeypatch.setattr(live_events, "POLL_SECONDS", 0.1)


def test_a_listener_sees_every_status_in_order_then_the_end(client):
    job_id = post(client, PDF).get_json()["id"]  # immediate: it ran already
    response = client.get(f"{JOBS}/{job_id}/events")
    assert response.mimetype == "text/event-stream"
    text = response.get_data(as_text=True)
    assert text.startswith("retry: 1000")
    events = parse(text)
    statuses = [data for _, kind, data in events if kind == "status"]
    assert ['"queued"' in s for s in statuses] == [True, False, False]
    assert '"processing"' in statuses[1] and '"succeeded"' in statuses[2]
    assert events[-1][1] == "end" and '"pages_total": 1' in events[-1][2]
    # Reconnecting after the second event: only what came after it.
    resumed = client.get(f"{JOBS}/{job_id}/events", headers={"Last-Event-ID": events[1][0]})
    kinds = [kind for _, kind, _ in parse(resumed.get_data(as_text=True))]
    assert kinds == ["status", "end"]


@pytest.mark.env(EVENTS_WINDOW_SECONDS="1")
def test_a_stream_ends_after_its_window_and_resumes_where_it_stopped(
    client, services, held, short_window
):
    job_id = post(client, PDF).get_json()["id"]  # held: queued, no worker runs it
    first = parse(client.get(f"{JOBS}/{job_id}/events").get_data(as_text=True))
    assert [(kind, '"queued"' in data) for _, kind, data in first] == [("status", True)]
    again = client.get(f"{JOBS}/{job_id}/events", headers={"Last-Event-ID": first[-1][0]})
    assert parse(again.get_data(as_text=True)) == []  # nothing new: nothing repeated
    assert client.post(f"{JOBS}/{job_id}/cancel").status_code == 200
    last = client.get(f"{JOBS}/{job_id}/events", headers={"Last-Event-ID": first[-1][0]})
    kinds = [(kind, '"canceled"' in data) for _, kind, data in parse(last.get_data(as_text=True))]
    assert kinds == [("status", True), ("end", True)]


@pytest.mark.env(EVENTS_MAX_PER_TENANT="1", EVENTS_WINDOW_SECONDS="1")
def test_streams_are_bounded_per_tenant(client, held, short_window):
    job_id = post(client, PDF).get_json()["id"]
    open_stream = client.get(f"{JOBS}/{job_id}/events", buffered=False)
    refused = client.get(f"{JOBS}/{job_id}/events")
    assert refused.status_code == 429 and refused.headers["Retry-After"]
    open_stream.close()  # the client went: its slot is free again
    assert client.get(f"{JOBS}/{job_id}/events").status_code == 200


@pytest.mark.env(EVENTS_MAX_PER_TENANT="5", WEB_CONCURRENCY="1", EVENTS_WINDOW_SECONDS="1")
def test_streams_never_take_more_than_half_the_web_s_threads(client, held, short_window):
    job_id = post(client, PDF).get_json()["id"]
    streams = [client.get(f"{JOBS}/{job_id}/events", buffered=False) for _ in range(2)]
    refused = client.get(f"{JOBS}/{job_id}/events")
    assert refused.status_code == 429
    assert "on this server" in refused.get_json()["error"]["message"]
    for stream in reversed(streams):  # each holds a request context: the last one first
        stream.close()


def test_an_unknown_job_has_no_stream(client):
    assert client.get(f"{JOBS}/{'0' * 32}/events").status_code == 404


@pytest.mark.env(EVENTS_WINDOW_SECONDS="1")
def test_a_batch_stream_ends_with_the_batch(client, held, short_window):
    made = client.post("/api/v1/pdf/batches", json={"sources": ["https://a.example/x.pdf"]})
    batch = made.get_json()
    events = parse(client.get(f"{batch['links']['self']}/events").get_data(as_text=True))
    assert [kind for _, kind, _ in events] == ["progress"]
    client.post(batch["links"]["cancel"])
    events = parse(client.get(f"{batch['links']['self']}/events").get_data(as_text=True))
    assert events[-1][1] == "end" and '"canceled"' in events[-1][2]
