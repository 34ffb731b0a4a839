"""Following jobs and batches to their end: through their event streams
(GET /jobs/<id>/events, /batches/<id>/events), polling where a stream cannot be had.

A stream ends by itself every EVENTS_WINDOW_SECONDS, and may be cut sooner (a proxy, the
network). Whenever one ends without `end`, the job (or batch) is read once as polling would
read it, and the stream is opened again with `Last-Event-ID`, so nothing is seen twice and
nothing is missed. After GIVE_UP cuts in a row that brought nothing new and came sooner than
SHORT seconds (a proxy closing every stream at once; a window's end is not one) the job is
polled to its end; a service or proxy that does not stream at all (404, 405, 501, an answer that is
not `text/event-stream`) is polled from then on, and so is a job whose stream was refused
with 429 (the tenant's streams are taken) until the answer's Retry-After has passed.

At most STREAMS jobs are followed by streams at once (the service allows a tenant
EVENTS_MAX_PER_TENANT, 4 by default; the others are left to a page or another client); the
other jobs are polled every `interval`, and take a stream's place when one ends. The
callbacks see the same states polling showed: each new (status, pages done, pages total).
"""

from __future__ import annotations

import http.client
import json
import queue
import threading
import time
from collections.abc import Callable, Iterable
from typing import Protocol

from client import sse
from client.transport import ApiError, NotAStream, Unreachable

TERMINAL = frozenset({"succeeded", "failed", "canceled"})
STREAMS = 2
GIVE_UP = 3  # short cuts in a row with nothing new before a job is polled to its end
SHORT = 2.0  # seconds: a stream that ends sooner with nothing new was cut, not at its window
NO_STREAMS = {404, 405, 501}  # a service (or proxy) without event streams


class Api(Protocol):
    """What following needs of the client: its reads, and how to open a stream."""

    def status(self, job_id: str) -> dict: ...

    def batch(self, batch_id: str) -> dict: ...

    def open_events(self, path: str, last_id: str | None, timeout: float | None = None): ...


def _state(job: dict) -> tuple:
    return job["status"], job.get("pages_done"), job.get("pages_total")


class _Jobs:
    """The jobs being followed: what each is known to be, what the callback has seen."""

    def __init__(self, job_ids: Iterable[str], on_change: Callable[[dict], None] | None):
        self.pending = list(dict.fromkeys(job_ids))
        self.known: dict[str, dict] = {}
        self.seen: dict[str, tuple] = {}
        self.done: dict[str, dict] = {}
        self.on_change = on_change

    def update(self, job_id: str, change: dict, whole: bool = False):
        """A job read whole (a poll, `end`) or a change (a status or progress event)."""
        if job_id in self.done:
            return
        job = self.known.setdefault(job_id, {"id": job_id})
        at = change.pop("status_changed_at", None)
        if at is not None and at < job.get("status_changed_at", ""):
            return  # a status older than one already seen (a stream replaying the moves)
        if whole:
            job.clear()
        job.update(change, id=job_id)
        if at is not None:
            job["status_changed_at"] = at
        if self.on_change and self.seen.get(job_id) != _state(job):
            self.on_change(dict(job))
        self.seen[job_id] = _state(job)
        if whole and job["status"] in TERMINAL:
            self.done[job_id] = job
            self.pending.remove(job_id)


def wait_jobs(
    api: Api,
    job_ids: Iterable[str],
    *,
    timeout: float | None,
    interval: float,
    on_change: Callable[[dict], None] | None,
    streams: int = STREAMS,
) -> dict[str, dict]:
    """{id: job} once every job has ended, in the order asked (not the order they ended);
    TimeoutError with the others after `timeout`."""
    jobs = _Jobs(job_ids, on_change)
    asked = list(jobs.pending)
    deadline = None if timeout is None else time.monotonic() + timeout
    updates: queue.Queue = queue.Queue()
    stop = threading.Event()
    streamed: set[str] = set()
    polled_only: set[str] = set()
    streams_off, paused_until, next_poll = False, 0.0, 0.0
    try:
        while jobs.pending:
            now = time.monotonic()
            if not streams_off and now >= paused_until:
                for job_id in jobs.pending:
                    if len(streamed) >= streams:
                        break
                    if job_id not in streamed and job_id not in polled_only:
                        streamed.add(job_id)
                        follower = _Follower(api, job_id, updates, stop)
                        threading.Thread(target=follower.run, daemon=True).start()
            if now >= next_poll:
                for job_id in [j for j in jobs.pending if j not in streamed]:
                    jobs.update(job_id, api.status(job_id), whole=True)
                next_poll = now + interval
            if not jobs.pending:
                break
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError(list(jobs.pending))
            wait = max(0.0, next_poll - time.monotonic())
            if deadline is not None:
                wait = min(wait, max(0.0, deadline - time.monotonic()))
            try:
                item = updates.get(timeout=wait)
            except queue.Empty:
                continue
            while item is not None:
                kind, job_id, value = item
                if kind == "error":
                    raise value
                if kind == "change":
                    jobs.update(job_id, value, whole=False)
                elif kind == "whole":
                    jobs.update(job_id, value, whole=True)
                else:  # "released": the job goes back to polling, from now
                    streamed.discard(job_id)
                    next_poll = 0.0
                    if value == "off":
                        streams_off = True
                    elif value == "gave_up":
                        polled_only.add(job_id)
                    elif isinstance(value, float):  # 429: its Retry-After
                        paused_until = time.monotonic() + value
                if job_id in jobs.done:
                    streamed.discard(job_id)
                try:
                    item = updates.get_nowait()
                except queue.Empty:
                    item = None
        return {job_id: jobs.done[job_id] for job_id in asked}
    finally:
        stop.set()


class _Follower:
    """One job's stream, opened again after each cut, on a thread of its own; what it learns
    goes to `updates` as (kind, job id, value)."""

    def __init__(self, api: Api, job_id: str, updates: queue.Queue, stop: threading.Event):
        self.api, self.job_id, self.updates, self.stop = api, job_id, updates, stop

    def send(self, kind: str, value):
        self.updates.put((kind, self.job_id, value))

    def run(self):
        try:
            self.send("released", self.follow())
        except BaseException as error:  # handed to the caller's thread, which raises it
            self.send("error", error)

    def follow(self):
        """Why the job goes back to polling: "ended", "off", "gave_up" or a 429's delay."""
        last_id, cuts, retry = None, 0, 1.0
        while not self.stop.is_set():
            news, opened = False, time.monotonic()
            try:
                answer = self.api.open_events(f"/jobs/{self.job_id}/events", last_id)
            except ApiError as error:
                if error.status in NO_STREAMS:
                    return "off"
                if error.status == 429:
                    return float(error.retry_after or 5)
                return "gave_up"  # 410, 5xx...: polling says what it is
            except NotAStream:
                return "off"
            except Unreachable:
                answer = None
            if answer is not None:
                reader = sse.Reader(_lines(answer), retry)
                with answer:
                    for event in reader:
                        news = True
                        last_id = event.id or last_id
                        if self._event(event):
                            return "ended"
                retry = reader.retry
            if self.stop.is_set():
                return "ended"
            cuts = 0 if news or time.monotonic() - opened >= SHORT else cuts + 1
            # Cut (or the window ended): read the job as polling would, then resume.
            job = self.api.status(self.job_id)
            self.send("whole", job)
            if job["status"] in TERMINAL:
                return "ended"
            if cuts >= GIVE_UP:
                return "gave_up"
            self.stop.wait(retry)
        return "ended"

    def _event(self, event: sse.Event) -> bool:
        """Pass the event on; whether it was the end."""
        data = json.loads(event.data)
        if event.event == "status":
            self.send("change", {"status": data["status"], "status_changed_at": data["at"]})
        elif event.event == "progress":
            pages = {"pages_done": data["pages_done"], "pages_total": data["pages_total"]}
            self.send("change", pages)
        elif event.event == "end":
            self.send("whole", data)
            return True
        return False


def _lines(answer):
    """The answer's lines until it ends or breaks (a cut is an end like any other)."""
    try:
        yield from answer
    except (OSError, ValueError, http.client.HTTPException):
        return


def wait_batch(
    api: Api,
    batch_id: str,
    *,
    timeout: float | None,
    interval: float,
    on_change: Callable[[dict], None] | None,
) -> dict:
    """The batch once it has ended, followed through its stream (polled where there is
    none); TimeoutError after `timeout` seconds."""
    deadline = None if timeout is None else time.monotonic() + timeout
    seen, last_id, streaming, cuts, retry = None, None, True, 0, 1.0

    def show(batch: dict) -> bool:
        nonlocal seen
        if on_change and seen != (batch["status"], batch["jobs_done"]):
            on_change(batch)
        seen = (batch["status"], batch["jobs_done"])
        return bool(batch["ended_at"])

    while True:
        news, opened = False, time.monotonic()
        if streaming:
            left = None if deadline is None else max(1.0, deadline - time.monotonic())
            try:
                answer = api.open_events(f"/batches/{batch_id}/events", last_id, left)
            except (NotAStream, ApiError) as error:
                if isinstance(error, ApiError) and error.status not in NO_STREAMS | {429}:
                    raise
                streaming = isinstance(error, ApiError) and error.status == 429
                answer = None
            except Unreachable:
                answer = None
            if answer is not None:
                reader = sse.Reader(_lines(answer), retry)
                with answer:
                    for event in reader:
                        news, last_id = True, event.id or last_id
                        if event.event in ("progress", "end"):
                            batch = json.loads(event.data)
                            if show(batch):
                                return batch
                retry = reader.retry
            cuts = 0 if news or time.monotonic() - opened >= SHORT else cuts + 1
            streaming = streaming and cuts < GIVE_UP
        batch = api.batch(batch_id)
        if show(batch):
            return batch
        if deadline is not None and time.monotonic() >= deadline:
            raise TimeoutError(batch_id)
        time.sleep(retry if streaming else interval)
