"""Rows a, e and g without the service: raw pdfminer.six in 2 processes (the baseline of
row a), the peak RSS of each file's extraction process, and PDFium against pdfminer."""

from __future__ import annotations

import logging
import multiprocessing
import os
import resource
import time
from pathlib import Path

from core import engine_registry

_context = multiprocessing.get_context("forkserver")
_context.set_forkserver_preload(["pdfminer.high_level"])


def _pdfminer_one(path: str) -> tuple[str, float, int]:
    """One file in a fresh process: (name, seconds, peak RSS in KB)."""
    from pdfminer.high_level import extract_text

    logging.getLogger("pdfminer").setLevel(logging.ERROR)  # its font warnings are noise here
    started = time.perf_counter()
    extract_text(path)
    seconds = time.perf_counter() - started
    return Path(path).name, seconds, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _pinned(cpus):
    if cpus:
        os.sched_setaffinity(0, cpus)


def pdfminer_pool(
    paths: list[Path], processes: int = 2, *, fresh: bool = True, cpus: set[int] | None = None
) -> tuple[float, list[tuple]]:
    """Raw extract_text over `paths` in `processes` processes (on `cpus`, when given), a fresh
    one per file (each file's peak memory alone) or warm ones that take file after file:
    (wall seconds, per-file results)."""
    started = time.perf_counter()
    pool = _context.Pool(
        processes, initializer=_pinned, initargs=(cpus,), maxtasksperchild=1 if fresh else None
    )
    try:
        results = pool.map(_pdfminer_one, [str(p) for p in paths], chunksize=1)
    finally:
        # close + join, not terminate: in a process that also runs the sandbox, the one
        # forkserver is the sandbox's, whose children ignore SIGTERM.
        pool.close()
        pool.join()
    return time.perf_counter() - started, results


def pdfminer_once(path: Path) -> float:
    """One process of raw extract_text on one file (row b's baseline), in seconds."""
    return pdfminer_pool([path], processes=1)[0]


def pdfium_seconds(paths: list[Path]) -> float:
    """The pdfium engine over `paths` in this one process."""
    pdfium = engine_registry.load("pdfium")
    started = time.perf_counter()
    for path in paths:
        pdfium.extract(path)
    return time.perf_counter() - started
