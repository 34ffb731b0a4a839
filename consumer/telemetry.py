"""The worker's logs and metrics: the job id on every line of a task, retries counted.

Imported by consumer.tasks, so the hooks are registered wherever the tasks are.
"""

from __future__ import annotations

import logging
import threading

from huey.api import Task
from huey.signals import SIGNAL_RETRYING

from core import keys, logs, metrics, services
from core.queue import huey
from core.settings import get_settings


def task_job_id(task: Task) -> str | None:
    """The job a task works on: its first argument is the job's source key (extraction), or
    its second is the job id (webhook deliveries: tenant, job id, event)."""
    args = task.args or ()
    if len(args) >= 2 and isinstance(args[1], str) and keys.is_job_id(args[1]):
        return args[1]
    if args and isinstance(args[0], str):
        try:
            return keys.parse_source_key(args[0])[1]
        except ValueError:
            return None
    return None


# Per worker thread: the task it ran last, and that task's job. Huey logs some lines about a
# task by its id alone ("Requeueing <id>, 2 retries"), after the task's own hooks have run.
_last_task = threading.local()


class _JobIdFromTask(logging.Filter):
    """Huey's own lines name the task ("Executing <task>", "Requeueing <task id>"), not the job."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "job_id", None) is None and isinstance(record.args, tuple):
            for arg in record.args:
                if isinstance(arg, Task):
                    record.job_id = task_job_id(arg)
                    break
                if arg is not None and arg == getattr(_last_task, "id", None):
                    record.job_id = _last_task.job_id
                    break
        return True


logging.getLogger("huey").addFilter(_JobIdFromTask())


@huey.pre_execute()
def _bind_job(task: Task):
    _last_task.id, _last_task.job_id = task.id, task_job_id(task)
    task._pdfq_log_token = logs.bind_job(_last_task.job_id)


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
