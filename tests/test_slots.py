"""consumer/slots.py: a worker process runs at most its slots' worth of extractions at once."""

import threading
import time

from consumer import slots


def test_zero_means_one_slot_per_core(monkeypatch):
    monkeypatch.setattr(slots.os, "cpu_count", lambda: 6)
    assert slots.size(0) == 6
    assert slots.size(3) == 3


def test_threads_beyond_the_slots_wait_and_keep_their_lease_alive(monkeypatch):
    monkeypatch.setattr(slots, "TICK_SECONDS", 0.01)
    running, most, ticks = [0], [0], []
    lock = threading.Lock()
    release = threading.Event()

    def extraction(index: int):
        with slots.held(2, on_tick=lambda: ticks.append(index)):
            with lock:
                running[0] += 1
                most[0] = max(most[0], running[0])
            release.wait(5)
            with lock:
                running[0] -= 1

    threads = [threading.Thread(target=extraction, args=(i,)) for i in range(5)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 30
    while len(set(ticks)) < 3:  # the three waiting threads each renewed their lease
        assert time.monotonic() < deadline, ticks
        time.sleep(0.01)
    assert running[0] == 2
    release.set()
    for thread in threads:
        thread.join(5)
    assert most[0] == 2 and running[0] == 0


def test_a_slot_is_given_back_when_the_extraction_fails():
    for _ in range(3):
        try:
            with slots.held(1):
                raise ValueError("corrupt")
        except ValueError:
            pass
    with slots.held(1):
        pass
