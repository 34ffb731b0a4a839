"""The queue: Huey built from the settings, and the few things pdfq asks of it.

RedisHuey with a Redis URL, SqliteHuey in the data folder without one, in-memory and
synchronous when HUEY_IMMEDIATE=true. Results are off: pdfq keeps results in S3, so nothing
in Redis grows without bound.

The task functions belong to the worker: consumer/tasks.py registers them on the process's
Huey and binds them here by name, so the lifecycle puts jobs on the queue without importing
the worker. Every call into Huey turns an outage into QueueUnavailable (503, retryable).

A job's task waits for its tenant's turn (core/adapters/fairqueue.py) on the Redis queue:
`enqueue_job` puts it there, a worker's `dispatch_job` task runs `next_job`.
"""

from __future__ import annotations

import sqlite3

import redis
from huey import Huey, MemoryHuey, RedisHuey, SqliteHuey
from huey.api import Task, TaskWrapper

from core.adapters.fairqueue import FairQueue
from core.adapters.redisconn import connection_pool, out_of_memory, unreachable
from core.clock import parse_time
from core.errors import QueueUnavailable
from core.settings import Settings

# The tasks the queue carries (consumer/tasks.py defines them under these names).
EXTRACT_DOCUMENT = "extract_document"
EXTRACT_PART = "extract_part"
DELIVER_WEBHOOK = "deliver_webhook"
DISPATCH_JOB = "dispatch_job"  # a turn: the next job of the next tenant (fairqueue.py)
# A batch's work (core/jobs/batches.py): make its jobs, stop or erase them, end it, call back.
MAKE_BATCH_JOBS = "make_batch_jobs"
STOP_BATCH = "stop_batch"
END_BATCH = "end_batch"
DELIVER_BATCH_WEBHOOK = "deliver_batch_webhook"
# Outputs asked for after a job finished (consumer/added_outputs.py).
ADD_OUTPUTS = "add_outputs"


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
        self.fair: FairQueue | None = None
        if isinstance(huey, RedisHuey) and not huey.immediate:
            storage = huey.storage
            self.fair = FairQueue(storage.conn, huey.name, storage.queue_key)

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

    def enqueue_job(self, tenant: str, task: Task):
        """A job's task (no eta): it waits for `tenant`'s turn (fairqueue.py), straight onto
        Huey's queue where there are no turns."""
        if self.fair is None:
            return self.enqueue(task)
        turn = self.huey.serialize_task(self.task(DISPATCH_JOB))
        self.call(self.fair.push, tenant, self.huey.serialize_task(task), turn)

    def put_first(self, name: str, *args) -> str:
        """Enqueue task `name` ahead of every task waiting (a batch's own bookkeeping, which
        must not wait behind the turns of thousands of jobs); its id. Where there are no
        turns, at the back as any task."""
        task = self.task(name, *args)
        if self.fair is None:
            self.enqueue(task)
        else:
            self.call(self.fair.put_first, self.huey.serialize_task(task))
        return task.id

    def next_job(self) -> Task | None:
        """The task of the next job whose tenant's turn it is; None when none waits."""
        data = self.call(self.fair.take) if self.fair else None
        return self.huey.deserialize_task(data) if data else None

    def waiting_by_tenant(self) -> dict[str, int]:
        """Jobs waiting for their tenant's turn, by tenant (empty without turns)."""
        return self.call(self.fair.waiting) if self.fair else {}

    def top_up(self) -> int:
        """Add the turns that jobs waiting lack (a worker died holding one); how many."""
        if self.fair is None:
            return 0
        turn = self._tasks[DISPATCH_JOB].task_class
        turns = sum(1 for task in self.call(self.huey.pending) if isinstance(task, turn))
        missing = sum(self.waiting_by_tenant().values()) - turns
        if missing <= 0:
            return 0
        added = [self.huey.serialize_task(self.task(DISPATCH_JOB)) for _ in range(missing)]
        self.call(self.fair.add_turns, added)
        return missing

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
        if self.fair is not None:
            tasks += map(self.huey.deserialize_task, self.call(self.fair.held))
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
