"""Huey tasks: thin wrappers over consumer.pipeline. The consumer target is consumer.tasks.huey."""

from __future__ import annotations

import logging

import consumer.telemetry  # noqa: F401 - the job id on log lines, retries counted (issue 8)
from consumer import pipeline
from core import logs
from core.errors import PdfqError
from core.queue import huey
from core.settings import get_settings

__all__ = ["extract_document", "huey"]

_settings = get_settings()


class _OneLineForKnownErrors(logging.Filter):
    """Huey logs a traceback for every failed task; pdfq's own errors already say what broke."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, PdfqError):
            record.msg = f"{record.msg} {error.code}: {error.message}"
            record.exc_info = record.exc_text = None
        return True


logging.getLogger("huey").addFilter(_OneLineForKnownErrors())


@huey.on_startup()
def _configure_logging():
    logs.configure(_settings)


@huey.task(
    retries=_settings.task_retries,
    retry_delay=_settings.task_retry_delay,
    retry_backoff=_settings.task_retry_backoff,
    context=True,
)
def extract_document(source_key: str, task=None):
    """Extract the PDF at `source_key`; storage outages are retried with delay and backoff."""
    final_attempt = task is None or task.retries == 0
    pipeline.process(source_key, final_attempt=final_attempt)
