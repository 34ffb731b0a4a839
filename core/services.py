"""Everything a process shares, built once from its settings by the process that needs it.

create_app() builds one for the web, the consumer's start-up one for the worker, each command
its own; tests build one per test. Building opens no connection: the storage client, Redis
and the queue connect on first use.
"""

from __future__ import annotations

import dataclasses

from huey import Huey

from core.adapters.queue import JobQueue, make_huey
from core.adapters.state import State, make_state
from core.adapters.storage import Storage
from core.jobs.inflight import InFlight
from core.jobs.lifecycle import Lifecycle
from core.jobs.records import JobRecords
from core.settings import Settings


@dataclasses.dataclass(frozen=True)
class Services:
    settings: Settings
    storage: Storage
    state: State
    queue: JobQueue
    records: JobRecords
    inflight: InFlight
    lifecycle: Lifecycle

    @property
    def huey(self) -> Huey:
        return self.queue.huey


def build(settings: Settings) -> Services:
    """The clients and the job domain for `settings`. The queue's tasks are the worker's:
    consumer.tasks.register(services) attaches them before anything is enqueued."""
    storage = Storage(settings)
    state = make_state(settings)
    queue = JobQueue(make_huey(settings), settings.redis_url)
    records = JobRecords(storage, state)
    inflight = InFlight(state, settings.lease_seconds, settings.progress_ttl)
    lifecycle = Lifecycle(records, inflight, queue, settings)
    return Services(settings, storage, state, queue, records, inflight, lifecycle)


def queue_summary(services: Services, tenant: str | None = None) -> dict:
    """The queue's shape: tasks pending and scheduled (the whole queue's), and jobs by status
    (of one tenant, or of all)."""
    settings = services.settings
    return {
        "queue": settings.queue_name,
        "backend": settings.queue_backend,
        "pending": services.queue.pending(),
        "scheduled": services.queue.scheduled(),
        "jobs": services.records.counts(tenant),
    }
