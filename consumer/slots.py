"""Extraction slots: how many sandboxed extractions one worker process runs at once.

Extraction runs in sandbox children, so a worker thread's own time is mostly waiting on
storage. With thread workers above the core count, the slots keep exactly as many
extractions running as there are cores while the other threads download and write. A
thread waiting for a slot keeps its job's lease alive, so recovery never takes the job from
a worker that is merely busy.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

TICK_SECONDS = 1.0  # how often a waiting thread renews its lease

_lock = threading.Lock()
_slots: dict[int, threading.BoundedSemaphore] = {}


def size(setting: int) -> int:
    """The number of slots for the EXTRACT_SLOTS setting: itself, or one per core for 0."""
    return setting or os.cpu_count() or 1


def _semaphore(count: int) -> threading.BoundedSemaphore:
    with _lock:
        if count not in _slots:
            _slots[count] = threading.BoundedSemaphore(count)
        return _slots[count]


@contextmanager
def held(setting: int, on_tick: Callable[[], None] | None = None) -> Iterator[None]:
    """Hold one slot of this process for the body; `on_tick` runs while waiting for it."""
    slots = _semaphore(size(setting))
    while not slots.acquire(timeout=TICK_SECONDS):
        if on_tick is not None:
            on_tick()
    try:
        yield
    finally:
        slots.release()
