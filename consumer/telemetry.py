"""The worker's logs and metrics: the job id on every line of a task, retries counted.

Imported by consumer.tasks, so the hooks are registered wherever the tasks are.
"""

from __future__ import annotations

import logging

from huey.api import Task
from huey.signals import SIGNAL_RETRYING

from core import keys, logs, metrics, services
from core.queue import huey
from core.settings import get_settings


def task_job_id(task: Task) -> str | None:
    """The job a task works on: its first argument is the job's source key."""
    args = task.args or ()
    if args and isinstance(args[0], str):
        try:
            return keys.parse_source_key(args[0])[1]
        except ValueError:
            return None
    return None


class _JobIdFromTask(logging.Filter):
    """Huey's own lines ("Executing ...", "... executed in 1.2s") name the task, not the job."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "job_id", None) is None and isinstance(record.args, tuple):
            task = next((a for a in record.args if isinstance(a, Task)), None)
            if task is not None:
                record.job_id = task_job_id(task)
        return True


logging.getLogger("huey").addFilter(_JobIdFromTask())


@huey.pre_execute()
def _bind_job(task: Task):
    task._pdfq_log_token = logs.bind_job(task_job_id(task))


@huey.post_execute()
def _unbind_job(task: Task, value, exception):
    token = getattr(task, "_pdfq_log_token", None)
    if token is not None:
        logs.unbind_job(token)


@huey.signal(SIGNAL_RETRYING)
def _count_retry(signal, task: Task, *args):
    metrics.record_retry(services.state())


# huey_consumer adds its own text handler to the "huey" logger after importing the tasks and
# before creating the consumer: re-format it there, so even the start-up lines are LOG_FORMAT.
_create_consumer = huey.create_consumer


def _create_consumer_with_our_logs(**options):
    logs.configure(get_settings())
    return _create_consumer(**options)


huey.create_consumer = _create_consumer_with_our_logs
