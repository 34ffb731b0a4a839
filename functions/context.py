"""What the web reaches the service through: the Services this process built (create_app,
the Lambda handler), and the name it writes into job attempts."""

from __future__ import annotations

import os
import socket

from flask import current_app

from consumer import tasks
from core.services import Services, build
from core.settings import settings_or_exit


def start() -> Services:
    """This process's Services from the environment, with the worker's tasks registered on its
    queue, so the web enqueues them (and, with HUEY_IMMEDIATE, runs them) without more."""
    runtime = build(settings_or_exit())
    tasks.register(runtime)
    return runtime


def services() -> Services:
    """The Services of the app handling this request or command."""
    return current_app.extensions["pdfq"]


def caller() -> str:
    """Names the web process in a job's attempts, as a worker names itself there."""
    return f"web:{socket.gethostname()}:{os.getpid()}"
