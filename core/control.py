"""Cancel requests for running jobs, kept in the state store (Redis or the embedded one).

The web cannot reach into a worker, so it leaves a flag; the worker looks at it on every
tick of the sandbox's poll loop (after each page and at least every POLL_SECONDS), kills the
extraction child and ends the job `canceled`. The flag expires on its own.
"""

from __future__ import annotations

import contextlib

from core.errors import PdfqError

CANCEL_TTL = 24 * 3600


class JobCanceled(Exception):
    """Raised inside a worker when the job it runs was canceled; not an error of the PDF."""


def request_cancel(state, job_id: str):
    state.set(f"cancel:{job_id}", "1", CANCEL_TTL)


def cancel_requested(state, job_id: str) -> bool:
    return state.get(f"cancel:{job_id}") is not None


def clear_cancel(state, job_id: str):
    with contextlib.suppress(PdfqError):  # it expires anyway
        state.delete(f"cancel:{job_id}")
