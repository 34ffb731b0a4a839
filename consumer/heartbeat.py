"""A worker's hold on what it runs: its name, and the tick that keeps a lease alive.

The sandbox calls the tick about every POLL_SECONDS while its child extracts. The tick renews
the lease every third of its length, so a worker that dies leaves a lease that expires for
recovery to find; and it stops the run (by raising) when the lease went to someone else,
the job was canceled, or this process handed the job back on SIGTERM.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable

from core.errors import PdfqError
from core.jobs.inflight import InFlight

log = logging.getLogger("pdfq.consumer")

CANCEL_CHECK_SECONDS = 0.5  # how late a running job sees its cancel request, at most

# Jobs this process handed back on SIGTERM: their threads (thread workers) must stop at once
# and leave the lease alone, since the job is on the queue again.
interrupted: set[str] = set()


class LeaseLost(Exception):
    """Another worker took the job (or part) over, or it was handed back: stop, write nothing."""


class PartLeaseLost(LeaseLost):
    """Another worker took over one range of a page-parallel job (we were presumed dead)."""


class JobCanceled(Exception):
    """The job being run was canceled: not an error of the PDF."""


def worker_name() -> str:
    """host:pid:thread, so leases and attempts name the worker."""
    return f"{socket.gethostname()}:{os.getpid()}:{threading.current_thread().name}"


def lease_tick(
    inflight: InFlight, name: str, worker: str, lost: type[LeaseLost] = LeaseLost
) -> Callable[[], None]:
    """A tick that renews the lease `name` every third of its length, raising `lost` when it
    is someone else's. With Redis down the work goes on: the record is what counts."""
    every = inflight.lease_seconds / 3
    last = time.monotonic()

    def tick():
        nonlocal last
        if time.monotonic() - last < every:
            return
        last = time.monotonic()
        try:
            still_ours = inflight.renew(name, worker)
        except PdfqError as exc:
            log.warning("%s: could not renew the lease: %s", name, exc.message)
            return
        if not still_ours:
            raise lost()

    return tick


def part_tick(inflight: InFlight, job_id: str, name: str, worker: str) -> Callable[[], None]:
    """The tick of one range run by a worker that is not the job's: keep the range's lease,
    and stop when the job was canceled or erased (its own worker's stop does not reach
    other workers)."""
    renew = lease_tick(inflight, name, worker, PartLeaseLost)

    def tick():
        if inflight.cancel_requested(job_id):
            raise JobCanceled()
        renew()

    return tick


def job_tick(inflight: InFlight, job_id: str, worker: str) -> Callable[..., None]:
    """The tick of a whole job: stop when it was handed back or canceled, keep its lease.
    The cancel request is read at most every CANCEL_CHECK_SECONDS (a one-page job ticks a
    few times within milliseconds: a read each was a fifth of its worker's Redis traffic),
    and always on `tick(final=True)`, before anything of the run is written."""
    renew = lease_tick(inflight, job_id, worker)
    checked = time.monotonic()  # the job was just started: nobody canceled it yet

    def tick(final: bool = False):
        nonlocal checked
        if job_id in interrupted:
            raise LeaseLost()
        if final or time.monotonic() - checked >= CANCEL_CHECK_SECONDS:
            checked = time.monotonic()
            if inflight.cancel_requested(job_id):
                raise JobCanceled()
        renew()

    return tick
