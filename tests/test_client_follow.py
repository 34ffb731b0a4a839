"""The client follows jobs and batches through their event streams (client/follow.py, read by
client/sse.py) against a local HTTP server that plays the service: a stream cut midway is
resumed with Last-Event-ID after one poll, and the job still ends with its status; a proxy
or service without streams (an HTML page, 404, 429) is polled as before; the callback sees
each state once, as polling showed them.

The command against the live stack: tests/test_client_e2e.py."""

from __future__ import annotations

import io
import json
import time

import pytest

from client import follow, sse
from client.connection import Connection
from client.service import Client
from client.transport import Retries
from tests.support.origin import Origin

API = "/api/v1/pdf"
JOB = "a" * 32
T1, T2, T3 = "2026-12-01T10:00:00.000Z", "2026-12-01T10:00:01.000Z", "2026-12-01T10:00:05.000Z"


def event(event_id: str, kind: str, data: dict) -> bytes:
    return f"id: {event_id}\nevent: {kind}\ndata: {json.dumps(data)}\n\n".encode()


def job(status: str, done=None, total=None, at=T2, job_id=JOB) -> dict:
    return {"id": job_id, "status": status, "pages_done": done, "pages_total": total,
            "status_changed_at": at, "filename": "report.pdf"}  # fmt: skip


class Service:
    """The fake service: each events request's Last-Event-ID, and the polls it answered."""

    def __init__(self, routes: dict):
        self.last_ids: list[str | None] = []
        self.origin = Origin(routes)
        self.client = Client(Connection.of(self.origin.base), retries=Retries(attempts=0))

    def stream(
        self,
        body: bytes,
        status: int = 200,
        content_type: str = "text/event-stream",
        hold: float = 0.0,
    ):
        """An answer that sends `body`, waits `hold` seconds and closes the connection: a
        stream cut there (or ended with its window)."""

        def send(handler):
            self.last_ids.append(handler.headers.get("Last-Event-ID"))
            handler.send_response(status)
            handler.send_header("Content-Type", content_type)
            handler.send_header("Connection", "close")
            handler.end_headers()
            handler.wfile.write(body)
            handler.wfile.flush()
            time.sleep(hold)
            handler.close_connection = True

        return send

    def polls(self, path: str) -> int:
        return self.origin.requests.count(f"{API}{path}")

    def stop(self):
        self.origin.stop()


@pytest.fixture
def service():
    made = []

    def start(routes) -> Service:
        made.append(Service(routes))
        return made[-1]

    yield start
    for one in made:
        one.stop()


def test_a_stream_cut_midway_is_resumed_after_one_poll_and_the_job_ends(service):
    fake = service({})
    first = b"retry: 10\n\n" + event("1.0", "status", {"status": "queued", "at": T1})
    first += event("2.0", "status", {"status": "processing", "at": T2})
    first += event("2.1", "progress", {"pages_done": 1, "pages_total": 3})
    first += b'id: 2.2\nevent: progress\ndata: {"pages_do'  # cut in the middle of an event
    second = event("2.3", "progress", {"pages_done": 3, "pages_total": 3})
    second += event("3.0", "status", {"status": "succeeded", "at": T3})
    second += event("3.0", "end", job("succeeded", 3, 3, T3))
    fake.origin.routes[f"{API}/jobs/{JOB}/events"] = [fake.stream(first), fake.stream(second)]
    fake.origin.routes[f"{API}/jobs/{JOB}"] = (
        200,
        {},
        json.dumps(job("processing", 2, 3)).encode(),
    )
    seen = []
    done = fake.client.wait([JOB], timeout=30, on_change=lambda j: seen.append(follow._state(j)))
    assert done[JOB]["status"] == "succeeded" and done[JOB]["filename"] == "report.pdf"
    assert fake.last_ids == [None, "2.1"]  # resumed after the last whole event
    assert fake.polls(f"/jobs/{JOB}") == 1
    assert seen == [
        ("queued", None, None),
        ("processing", None, None),
        ("processing", 1, 3),
        ("processing", 2, 3),  # the poll after the cut
        ("processing", 3, 3),
        ("succeeded", 3, 3),
    ]


@pytest.mark.parametrize(
    "refusal",
    [
        (200, "text/html", b"<html>a proxy's page</html>"),
        (404, "application/json", b'{"error": {"code": "not_found", "message": "no"}}'),
        (429, "application/json", b'{"error": {"code": "too_many_jobs", "message": "4"}}'),
    ],
)
def test_a_job_without_a_stream_is_polled_to_its_end(service, refusal):
    fake = service({})
    status, content_type, body = refusal
    fake.origin.routes[f"{API}/jobs/{JOB}/events"] = fake.stream(body, status, content_type)
    answers = [job("queued", at=T1), job("processing", 1, 2), job("succeeded", 2, 2, T3)]
    fake.origin.routes[f"{API}/jobs/{JOB}"] = [(200, {}, json.dumps(a).encode()) for a in answers]
    seen = []
    done = fake.client.wait(
        [JOB], timeout=30, interval=0.05, on_change=lambda j: seen.append(j["status"])
    )
    assert done[JOB]["status"] == "succeeded"
    assert seen == ["queued", "processing", "succeeded"]
    assert len(fake.last_ids) == 1 and fake.polls(f"/jobs/{JOB}") == 3


def test_streams_closed_at_once_again_and_again_give_way_to_polling(service):
    fake = service({})
    fake.origin.routes[f"{API}/jobs/{JOB}/events"] = fake.stream(b"retry: 10\n\n")
    answers = [job("queued", at=T1)] * 4 + [job("succeeded", 1, 1, T3)]
    fake.origin.routes[f"{API}/jobs/{JOB}"] = [(200, {}, json.dumps(a).encode()) for a in answers]
    done = fake.client.wait([JOB], timeout=30, interval=0.05)
    assert done[JOB]["status"] == "succeeded"
    assert len(fake.last_ids) == follow.GIVE_UP and fake.polls(f"/jobs/{JOB}") == 5


def test_windows_that_end_with_nothing_new_are_not_cuts(service, monkeypatch):
    """A job waiting longer than GIVE_UP windows is still followed by its stream."""
    monkeypatch.setattr(follow, "SHORT", 0.1)
    fake = service({})
    quiet = fake.stream(b"retry: 10\n\n", hold=0.2)
    end = fake.stream(event("2.0", "end", job("succeeded", 1, 1, T3)))
    fake.origin.routes[f"{API}/jobs/{JOB}/events"] = [quiet] * (follow.GIVE_UP + 1) + [end]
    fake.origin.routes[f"{API}/jobs/{JOB}"] = (200, {}, json.dumps(job("queued", at=T1)).encode())
    done = fake.client.wait([JOB], timeout=30, interval=0.05)
    assert done[JOB]["status"] == "succeeded"
    assert len(fake.last_ids) == follow.GIVE_UP + 2


def test_a_replayed_status_older_than_the_one_polled_is_not_shown_again(service):
    """A job polled first, then streamed from its first move: the old moves are not news."""
    fake = service({})
    body = event("1.0", "status", {"status": "queued", "at": T1})
    body += event("2.0", "status", {"status": "processing", "at": T2})
    body += event("3.0", "status", {"status": "succeeded", "at": T3})
    body += event("3.0", "end", job("succeeded", at=T3))
    fake.origin.routes[f"{API}/jobs/{JOB}/events"] = fake.stream(body)
    jobs = follow._Jobs([JOB], None)
    shown = []
    jobs.on_change = lambda j: shown.append(j["status"])
    jobs.update(JOB, job("processing", at=T2), whole=True)
    follower = follow._Follower(fake.client, JOB, follow.queue.Queue(), follow.threading.Event())
    follower.run()
    while not follower.updates.empty():
        kind, _, value = follower.updates.get()
        if kind in ("change", "whole"):
            jobs.update(JOB, value, whole=kind == "whole")
    assert shown == ["processing", "succeeded"]


def test_more_jobs_than_streams_are_polled_beside_the_streamed_ones(service):
    ids = [c * 32 for c in "bcd"]
    fake = service({})
    for job_id in ids:
        end = event("2.0", "end", job("succeeded", 1, 1, T3, job_id))
        fake.origin.routes[f"{API}/jobs/{job_id}/events"] = fake.stream(end)
        polled = json.dumps(job("succeeded", 1, 1, T3, job_id)).encode()
        fake.origin.routes[f"{API}/jobs/{job_id}"] = (200, {}, polled)
    done = fake.client.wait(ids, timeout=30)
    assert sorted(done) == ids and {j["status"] for j in done.values()} == {"succeeded"}
    assert len(fake.last_ids) == follow.STREAMS  # the third was polled, and had ended
    assert sum(fake.polls(f"/jobs/{job_id}") for job_id in ids) == 1


def test_jobs_come_back_in_the_order_asked_whichever_ends_first(service):
    slow, quick = "e" * 32, "f" * 32
    fake = service({})
    ended = event("2.0", "end", job("succeeded", 1, 1, T3, quick))
    fake.origin.routes[f"{API}/jobs/{quick}/events"] = fake.stream(ended)
    later = event("2.0", "end", job("succeeded", 1, 1, T3, slow))

    def late(handler):  # the slow job's stream answers after the quick one has ended
        time.sleep(0.5)
        fake.stream(later)(handler)

    fake.origin.routes[f"{API}/jobs/{slow}/events"] = late
    assert list(fake.client.wait([slow, quick], timeout=30)) == [slow, quick]


def test_a_wait_past_its_timeout_names_the_unfinished_jobs(service):
    fake = service({})
    fake.origin.routes[f"{API}/jobs/{JOB}/events"] = fake.stream(b"retry: 50\n\n")
    fake.origin.routes[f"{API}/jobs/{JOB}"] = (200, {}, json.dumps(job("queued")).encode())
    with pytest.raises(TimeoutError) as raised:
        fake.client.wait([JOB], timeout=0.5, interval=0.1)
    assert raised.value.args[0] == [JOB]


def test_a_batch_stream_cut_midway_is_resumed_and_ends(service):
    batch_id = "e" * 32

    def batch(done: int, ended: bool) -> dict:
        return {"id": batch_id, "status": "finished" if ended else "running", "total": 2,
                "jobs_done": done, "ended_at": T3 if ended else None}  # fmt: skip

    fake = service({})
    first = b"retry: 10\n\n" + event("1", "progress", batch(1, False)) + b"id: 2\nevent: pro"
    second = event("2", "end", batch(2, True))
    fake.origin.routes[f"{API}/batches/{batch_id}/events"] = [
        fake.stream(first),
        fake.stream(second),
    ]
    fake.origin.routes[f"{API}/batches/{batch_id}"] = (
        200,
        {},
        json.dumps(batch(1, False)).encode(),
    )
    seen = []
    ended = fake.client.wait_batch(batch_id, timeout=30, on_change=lambda b: seen.append(b))
    assert ended["status"] == "finished" and fake.last_ids == [None, "1"]
    assert [(b["status"], b["jobs_done"]) for b in seen] == [("running", 1), ("finished", 2)]
    assert fake.polls(f"/batches/{batch_id}") == 1


def test_events_are_read_whole_and_an_event_cut_off_is_dropped():
    lines = io.BytesIO(
        b'retry: 2500\n\n: a comment\nid: 7\nevent: status\ndata: {"a":\ndata:  1}\n\n'
        b"id: 8\nevent: status\ndata: {}"
    )
    reader = sse.Reader(lines)
    assert list(reader) == [sse.Event("7", "status", '{"a":\n 1}')]
    assert reader.retry == 2.5
