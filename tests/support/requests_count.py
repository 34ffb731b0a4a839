"""Counting what a call asks of storage and of the state store, request by request."""

from __future__ import annotations

import collections
import contextlib

from core.services import Services

STATE_METHODS = ("get", "get_many", "set", "set_if_absent", "incr", "delete")


@contextlib.contextmanager
def counted(services: Services, monkeypatch):
    """A Counter of the storage operations (S3 API names, whether core/adapters/s3http.py or
    boto3 made them) and state-store calls (`state.<method>`) made inside the block."""
    calls: collections.Counter = collections.Counter()

    def storage_call(model, **_):
        calls[model.name] += 1

    events = services.storage.client.meta.events
    events.register("before-call.s3", storage_call)
    http = services.storage.http
    with monkeypatch.context() as patch:
        patch.setattr(http, "request", _counting_requests(calls, http.request))
        for name in STATE_METHODS:
            method = getattr(services.state, name)
            patch.setattr(services.state, name, _counting(calls, f"state.{name}", method))
        try:
            yield calls
        finally:
            events.unregister("before-call.s3", storage_call)


def _counting(calls, name, method):
    def call(*args, **kwargs):
        calls[name] += 1
        return method(*args, **kwargs)

    return call


def _counting_requests(calls, request):
    def call(operation, *args, **kwargs):
        calls[operation] += 1
        return request(operation, *args, **kwargs)

    return call
