"""Logging set-up shared by the web and the worker processes."""

from __future__ import annotations

import logging

from core.settings import Settings


def configure(settings: Settings):
    """Send pdfq's own loggers to stderr at LOG_LEVEL (gunicorn and huey keep theirs)."""
    logger = logging.getLogger("pdfq")
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
        logger.addHandler(handler)
    logger.setLevel(settings.log_level)
    logger.propagate = False
