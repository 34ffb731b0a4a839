"""Deliveries (consumer/delivery.py) against real sockets: the address is resolved once and
pinned (each address in turn), one deadline bounds an attempt (its lookup too), the log names
no network detail, and at most WEBHOOK_MAX_CONCURRENT deliveries hold workers at once."""

import datetime as dt
import socket
import sys
import threading
import time

import pytest

from consumer import delivery
from core import keys, webhooks
from core.adapters.queue import DELIVER_WEBHOOK
from tests.support.api import multipart
from tests.support.corpus import GOOD
from tests.support.jobs import moved
from tests.support.receiver import Receiver
from tests.support.servers import free_port

SECRET = "a-webhook-secret-long-enough"
PUBLIC_SECRET = webhooks.tenant_secret(SECRET, "public")
JOBS = "/api/v1/pdf/jobs"
PRIVATE_OK = {"WEBHOOK_SECRET": SECRET, "WEBHOOK_ALLOW_PRIVATE": "true"}


def submit(client, callback_url: str) -> str:
    body, kind = multipart(
        (GOOD / "pdfminer_jo.pdf").read_bytes(), "jo.pdf", fields={"callback_url": callback_url}
    )
    response = client.post("/api/v1/pdf/documents", data=body, content_type=kind)
    assert response.status_code == 202, response.get_json()
    return response.get_json()["id"]


def deliveries(client, job_id: str) -> list[dict]:
    return client.get(f"{JOBS}/{job_id}").get_json()["deliveries"]


@pytest.mark.env(**PRIVATE_OK)
def test_a_delivery_connects_to_the_address_it_checked_not_a_second_lookup(client, monkeypatch):
    # DNS rebinding: the name answers the checker with one address and anyone who asks
    # later with another (here 127.0.0.1, standing for an internal service).
    victim = Receiver(PUBLIC_SECRET)
    receiver = Receiver(PUBLIC_SECRET, host="127.0.0.2", port=victim.port)
    real = socket.getaddrinfo

    def rebinding(host, port, *args, **kwargs):
        if host != "hook.test":
            return real(host, port, *args, **kwargs)
        checker = sys._getframe(1).f_globals.get("__name__") == "core.egress"
        address = "127.0.0.2" if checker else "127.0.0.1"
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    try:
        job_id = submit(client, f"http://hook.test:{victim.port}/hook")
        [got] = receiver.wait_for(1, timeout=10)
        assert got["valid"] and got["body"]["job"]["id"] == job_id
        assert got["host"] == f"hook.test:{victim.port}"  # the name, though the IP was pinned
        assert victim.received == []
    finally:
        receiver.stop()
        victim.stop()


def test_tls_carries_the_name_in_sni_while_connecting_to_the_pinned_address():
    hellos: list[bytes] = []
    listener = socket.create_server(("127.0.0.1", 0))

    def accept():
        conn, _ = listener.accept()
        conn.settimeout(5)
        hellos.append(conn.recv(4096))  # the ClientHello, in clear
        conn.close()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    port = listener.getsockname()[1]
    target = webhooks.Target("https", "hook.example", port, "/", ("127.0.0.1",))
    with pytest.raises(OSError):
        delivery.post(target, {}, b"{}", deadline=time.monotonic() + 5)
    thread.join(5)
    listener.close()
    assert b"hook.example" in hellos[0]


class Dribbler:
    """A receiver that reads the request, then answers 204 one byte every half second."""

    def __init__(self, answer: bytes):
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}/hook"
        self.sent = 0
        self.answer = answer
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        conn, _ = self.listener.accept()
        with conn:
            conn.recv(65536)
            try:
                for byte in self.answer:
                    conn.sendall(bytes([byte]))
                    self.sent += 1
                    time.sleep(0.5)
            except OSError:
                pass  # pdfq hung up

    def stop(self):
        self.listener.close()


@pytest.mark.env(**PRIVATE_OK, WEBHOOK_TIMEOUT="1", WEBHOOK_RETRIES="0")
def test_a_receiver_dribbling_its_answer_is_cut_off_at_the_deadline(client):
    # Each byte arrives well within WEBHOOK_TIMEOUT; the whole answer takes far longer.
    answer = b"HTTP/1.1 204 No Content\r\nX-Slow: " + b"z" * 10 + b"\r\n\r\n"
    dribbler = Dribbler(answer)
    try:
        job_id = submit(client, dribbler.url)
        [attempt] = deliveries(client, job_id)
        assert (attempt["status"], attempt["ok"]) == (None, False)
        assert attempt["error"] == delivery.NO_ANSWER
        assert dribbler.sent < len(answer)
    finally:
        dribbler.stop()


@pytest.mark.env(**PRIVATE_OK, WEBHOOK_RETRIES="0")
def test_the_delivery_log_says_the_same_for_a_closed_port_as_for_a_silent_one(client):
    job_id = submit(client, f"http://127.0.0.1:{free_port()}/hook")  # nothing listens there
    [attempt] = deliveries(client, job_id)
    assert attempt["error"] == delivery.NO_ANSWER
    assert "refused" not in attempt["error"].lower().split(":", 1)[1]
    assert "Errno" not in attempt["error"]


@pytest.mark.env(WEBHOOK_SECRET=SECRET, WEBHOOK_RETRIES="0")
def test_a_host_that_turned_private_since_submission_is_refused_without_naming_it(
    client, monkeypatch
):
    answers = iter(["93.184.216.34", "10.0.0.7"])  # public when checked, private at delivery
    real = socket.getaddrinfo

    def turning(host, port, *args, **kwargs):
        if host != "hook.test":
            return real(host, port, *args, **kwargs)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (next(answers), port))]

    monkeypatch.setattr(socket, "getaddrinfo", turning)
    job_id = submit(client, "http://hook.test/hook")
    [attempt] = deliveries(client, job_id)
    assert attempt["error"] == delivery.REFUSED
    assert "10.0.0.7" not in str(attempt)


@pytest.mark.env(**PRIVATE_OK, WEBHOOK_MAX_CONCURRENT="1")
def test_deliveries_over_the_concurrency_bound_wait_on_the_queue(client, services):
    receiver = Receiver(PUBLIC_SECRET)
    services.state.set(keys.webhook_slot_key(0), "another worker", 60)  # the one slot is busy
    try:
        job_id = submit(client, receiver.url)
        assert receiver.received == [] and deliveries(client, job_id) == []
        services.state.delete(keys.webhook_slot_key(0))
        due = dt.datetime.now(dt.UTC).replace(tzinfo=None) + dt.timedelta(seconds=60)
        for task in services.huey.read_schedule(due):
            services.huey.execute(task, due)
        [got] = receiver.wait_for(1)
        assert got["valid"]
        assert [d["ok"] for d in deliveries(client, job_id)] == [True]
    finally:
        receiver.stop()


@pytest.mark.env(**PRIVATE_OK, WEBHOOK_MAX_CONCURRENT="1", WEBHOOK_RETRIES="3")
def test_a_delivery_that_waits_for_a_slot_keeps_the_attempts_it_had_left(client, services):
    receiver = Receiver(PUBLIC_SECRET)
    try:
        job_id = submit(client, receiver.url)  # delivered at once: nothing left scheduled
    finally:
        receiver.stop()
    job = services.records.get(job_id, "public")
    moved(services, job, job.status, webhook_owed="job.succeeded")  # as if the first failed
    services.state.set(keys.webhook_slot_key(0), "another worker", 60)  # the one slot is busy
    third = services.queue.task(DELIVER_WEBHOOK, "public", job_id, "job.succeeded")
    third.retries, third.retry_delay = 1, 8  # two attempts made, backed off to 8 s
    services.huey.execute(third)
    due = dt.datetime.now(dt.UTC).replace(tzinfo=None) + dt.timedelta(seconds=60)
    waiting = [t for t in services.huey.read_schedule(due) if t.args[1] == job_id]
    assert [(t.retries, t.retry_delay) for t in waiting] == [(1, 8)]


def answering(monkeypatch, name: str, addresses, before=None):
    """socket.getaddrinfo answering `name` with `addresses` (after calling `before`)."""
    real = socket.getaddrinfo

    def lookup(host, port, *args, **kwargs):
        if host != name:
            return real(host, port, *args, **kwargs)
        if before is not None:
            before()
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port)) for a in addresses]

    monkeypatch.setattr(socket, "getaddrinfo", lookup)


@pytest.mark.env(**PRIVATE_OK, WEBHOOK_TIMEOUT="1", WEBHOOK_RETRIES="0")
def test_a_stalled_lookup_at_delivery_ends_within_webhook_timeout(client, monkeypatch):
    lookups = []

    def stall_after_the_first():
        lookups.append(time.monotonic())
        if len(lookups) > 1:  # the check at submission answers; the delivery's stalls
            time.sleep(8)

    answering(monkeypatch, "hook.test", ["127.0.0.1"], before=stall_after_the_first)
    started = time.monotonic()
    job_id = submit(client, f"http://hook.test:{free_port()}/hook")  # delivered in the request
    # Generous: the attempt ends at WEBHOOK_TIMEOUT (1 s), far before the 8 s stall does.
    assert time.monotonic() - started < 6
    [attempt] = deliveries(client, job_id)
    assert attempt["error"] == delivery.NO_ANSWER
    assert len(lookups) == 2


@pytest.mark.env(**PRIVATE_OK, WEBHOOK_MAX_CONCURRENT="1", WEBHOOK_RETRIES="0")
def test_a_delivery_frees_only_the_slot_it_still_holds(client, services, monkeypatch):
    """A delivery whose slot expired while it ran (a slow lookup) and was taken by another
    delivery leaves that other one's slot alone."""
    receiver = Receiver(PUBLIC_SECRET)
    slot = keys.webhook_slot_key(0)
    calls = []

    def slot_taken_meanwhile():
        calls.append(1)
        if len(calls) > 1:  # the delivery's lookup, not the check at submission
            services.state.set(slot, "another delivery", 60)

    answering(monkeypatch, "hook.test", ["127.0.0.1"], before=slot_taken_meanwhile)
    try:
        job_id = submit(client, f"http://hook.test:{receiver.port}/hook")
        assert [d["ok"] for d in deliveries(client, job_id)] == [True]
        assert services.state.get(slot) == "another delivery"
    finally:
        receiver.stop()


@pytest.mark.env(**PRIVATE_OK, WEBHOOK_RETRIES="0")
def test_every_address_a_host_resolves_to_is_tried_in_turn(client, monkeypatch):
    receiver = Receiver(PUBLIC_SECRET)  # on 127.0.0.1; nothing listens on 127.0.0.2
    answering(monkeypatch, "hook.test", ["127.0.0.2", "127.0.0.1"])
    try:
        job_id = submit(client, f"http://hook.test:{receiver.port}/hook")
        [got] = receiver.wait_for(1, timeout=10)
        assert got["valid"] and got["host"] == f"hook.test:{receiver.port}"
        assert [d["ok"] for d in deliveries(client, job_id)] == [True]
    finally:
        receiver.stop()
