"""The worker's logs and metrics: the job id on every line of a task, one line for a known
error instead of a traceback, retries counted. consumer/tasks.py registers it on the queue.
"""

from __future__ import annotations

import logging
import threading

from huey.api import Task
from huey.signals import SIGNAL_RETRYING

from core import keys, logs, metrics
from core.errors import PdfqError
from core.services import Services


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


class _OneLineForKnownErrors(logging.Filter):
    """Huey logs a traceback for every failed task; pdfq's own errors already say what broke."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, PdfqError):
            record.msg = f"{record.msg} {error.code}: {error.message}"
            record.exc_info = record.exc_text = None
        return True


def register(services: Services):
    """Hook the job id into every line a task logs, count retries, and format Huey's own
    lines (the consumer's start-up lines too) in LOG_FORMAT."""
    huey = services.huey
    huey_log = logging.getLogger("huey")
    for kind in (_JobIdFromTask, _OneLineForKnownErrors):
        if not any(isinstance(f, kind) for f in huey_log.filters):
            huey_log.addFilter(kind())

    @huey.pre_execute()
    def _bind_job(task: Task):
        _last_task.id, _last_task.job_id = task.id, task_job_id(task)
        task._pdfq_log_token = logs.bind_job(_last_task.job_id)

    @huey.post_execute()
    def _unbind_job(task: Task, value, exception):
        # In the consumer, cleared rather than reset: lines between tasks (queue reads, the
        # scheduler) belong to no job, whatever an earlier task left behind. An immediate
        # queue runs the task inside its caller (a request), whose own job id comes back.
        token = getattr(task, "_pdfq_log_token", None)
        if huey.immediate and token is not None:
            logs.unbind_job(token)
        else:
            logs.clear_job()

    @huey.signal(SIGNAL_RETRYING)
    def _count_retry(signal, task: Task, *args):
        metrics.record_retry(services.state)

    @huey.on_startup()
    def _configure_logging():
        logs.configure(services.settings)

    # huey_consumer adds its own text handler to the "huey" logger after loading the Huey
    # instance and before creating the consumer: re-format it there, so even the start-up
    # lines are LOG_FORMAT.
    create_consumer = huey.create_consumer

    def create_consumer_with_our_logs(**options):
        logs.configure(services.settings)
        return create_consumer(**options)

    huey.create_consumer = create_consumer_with_our_logs

    # Huey skips the post-execute hooks when its own bookkeeping after a task fails (Redis
    # down as the task ends): the job id must still not stick to the consumer's next lines.
    execute = huey.execute

    def execute_then_forget_the_job(task, timestamp=None):
        try:
            return execute(task, timestamp)
        finally:
            if not huey.immediate:
                logs.clear_job()

    huey.execute = execute_then_forget_the_job
