"""The messages between the worker and a sandbox child (consumer/sandbox_wire.py): JSON in
bounded frames, read by the worker without ever blocking on a child that stops mid-message."""

import socket
import time

import pytest

from consumer.sandbox_wire import HEADER, MAX_MESSAGE_BYTES, Channel, WireError


@pytest.fixture
def pair():
    worker, child = socket.socketpair()
    yield Channel(worker), child
    worker.close()
    child.close()


def test_a_message_goes_across_whole(pair):
    worker, child = pair
    Channel(child).send("progress", 3, 10)
    assert worker.poll(1) and worker.recv() == ["progress", 3, 10]


def test_a_message_over_the_bound_is_refused_before_it_is_read(pair):
    worker, child = pair
    child.sendall(HEADER.pack(MAX_MESSAGE_BYTES + 1))
    with pytest.raises(WireError):
        worker.poll(1)


@pytest.mark.parametrize("body", [b"\x80\x04K\x01.", b"{}", b"[1, 2]"])
def test_what_is_not_a_json_message_is_refused_never_unpickled(pair, body):
    worker, child = pair
    child.sendall(HEADER.pack(len(body)) + body)
    assert worker.poll(1)
    with pytest.raises(WireError):
        worker.recv()


def test_half_a_message_holds_the_worker_no_longer_than_it_asked(pair):
    worker, child = pair
    child.sendall(HEADER.pack(100) + b"[")
    started = time.monotonic()
    assert worker.poll(0.2) is False
    assert time.monotonic() - started < 2


def test_a_child_that_is_gone_is_an_end_of_file(pair):
    worker, child = pair
    child.close()
    with pytest.raises(EOFError):
        worker.poll(1)
