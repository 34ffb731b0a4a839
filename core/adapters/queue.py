"""The queue: Huey built from the settings, and the few things pdfq asks of it.

RedisHuey with a Redis URL, SqliteHuey in the data folder without one, in-memory and
synchronous when HUEY_IMMEDIATE=true. Results are off: pdfq keeps results in S3, so nothing
in Redis grows without bound.

The task functions belong to the worker: consumer/tasks.py registers them on the process's
Huey and binds them here by name, so the lifecycle puts jobs on the queue without importing
the worker. Every call into Huey turns an outage into QueueUnavailable (503, retryable).
"""

from __future__ import annotations

import sqlite3

import redis
from huey import Huey, MemoryHuey, RedisHuey, SqliteHuey
from huey.api import Task, TaskWrapper

from core.adapters.redisconn import connection_pool, out_of_memory, unreachable
from core.clock import parse_time
from core.errors import QueueUnavailable
from core.settings import Settings

# The tasks the queue carries (consumer/tasks.py defines them under these names).
EXTRACT_DOCUMENT = "extract_document"
EXTRACT_PART = "extract_part"
DELIVER_WEBHOOK = "deliver_webhook"


def make_huey(settings: Settings) -> Huey:
    """The process's Huey for `settings`; opens no connection to Redis."""
    name = settings.queue_name
    if settings.immediate:
        return MemoryHuey(name, results=False, immediate=True)
    if settings.redis_url:
        return RedisHuey(name, results=False, connection_pool=connection_pool(settings))
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return SqliteHuey(name, results=False, filename=str(settings.data_dir / "queue.sqlite3"))


class JobQueue:
    """Tasks put on the queue (now, after a delay or at a time), revoked, and counted."""

    def __init__(self, huey: Huey, redis_url: str = ""):
        self.huey = huey
        self._redis_url = redis_url
        self._tasks: dict[str, TaskWrapper] = {}

    def bind(self, **tasks: TaskWrapper):
        """The worker's task functions, by name (EXTRACT_DOCUMENT, ...)."""
        self._tasks.update(tasks)

    def task(self, name: str, *args, eta: str | None = None, delay: float | None = None) -> Task:
        """A task ready to enqueue (its id is known before it is on the queue); `eta` is an
        ISO 8601 time as records write them."""
        try:
            wrapper = self._tasks[name]
        except KeyError:
            raise RuntimeError(f"task {name!r} is not registered: see consumer.tasks") from None
        if eta:  # aware: Huey would read a naive time as local, to the whole second
            return wrapper.s(*args, eta=parse_time(eta))
        return wrapper.s(*args, delay=delay) if delay else wrapper.s(*args)

    def enqueue(self, task: Task):
        self.call(self.huey.enqueue, task)

    def put(self, name: str, *args, delay: float | None = None) -> str:
        """Enqueue task `name` with `args` (after `delay` seconds); its task id."""
        task = self.task(name, *args, delay=delay)
        self.enqueue(task)
        return task.id

    def revoke(self, task_id: str):
        """A queued or scheduled task that must not run."""
        self.call(self.huey.revoke_by_id, task_id, None, True)

    def pending(self) -> int:
        return self.call(self.huey.pending_count)

    def scheduled(self) -> int:
        return self.call(self.huey.scheduled_count)

    def task_ids(self) -> set[str]:
        """The id of every task waiting in the queue or the schedule (reads them all: for
        recovery's once-a-minute check that marked tasks really exist)."""
        tasks = [*self.call(self.huey.pending), *self.call(self.huey.scheduled)]
        return {task.id for task in tasks}

    def call(self, fn, *args):
        """Call into Huey, turning a down queue into QueueUnavailable (503 with Retry-After)."""
        try:
            return fn(*args)
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            raise unreachable(self._redis_url, exc) from exc
        except redis.exceptions.OutOfMemoryError as exc:
            raise out_of_memory(self._redis_url, exc) from exc
        except sqlite3.OperationalError as exc:
            raise QueueUnavailable(f"The embedded queue is not usable ({exc}).") from exc
