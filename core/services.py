"""The shared clients (storage, ephemeral state, job store), each built on first use."""

from __future__ import annotations

import functools

from core.inflight import InFlight
from core.jobs import JobStore
from core.settings import get_settings
from core.state import make_state
from core.storage import Storage


@functools.cache
def storage() -> Storage:
    return Storage(get_settings())


@functools.cache
def state():
    return make_state(get_settings())


@functools.cache
def jobs() -> JobStore:
    return JobStore(storage(), state(), progress_ttl=get_settings().progress_ttl)


@functools.cache
def inflight() -> InFlight:
    return InFlight(state(), get_settings().lease_seconds)


def reset():
    """Forget every client and the settings (tests change the environment between cases)."""
    for cached in (storage, state, jobs, inflight, get_settings):
        cached.cache_clear()
