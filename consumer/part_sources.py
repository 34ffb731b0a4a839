"""The source PDFs that part workers keep between page ranges of one job.

A worker thread usually takes several ranges of one job in a row, so it keeps the last
source it downloaded (a source key names one job's PDF, which never changes). A copy is
kept per thread, so thread workers never delete a file another thread is extracting. A copy
goes as soon as its job is known to have stopped (canceled, erased, ended), after
IDLE_SECONDS unused, and when the process exits: a deleted job's PDF does not wait on a
worker's disk for that thread's next part.
"""

from __future__ import annotations

import atexit
import contextlib
import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from consumer import scratch
from core.jobs import pdfcheck

IDLE_SECONDS = 30.0


@dataclass
class _Kept:
    key: str
    folder: Path
    in_use: bool = True
    last_used: float = field(default_factory=time.monotonic)


_lock = threading.Lock()
_kept: dict[int, _Kept] = {}  # thread id -> its copy
_sweeper: list[threading.Thread] = []


@contextlib.contextmanager
def held(services, source_key: str, etag: str | None) -> Iterator[Path]:
    """The path of a local copy of the job's source, downloaded once per thread and job,
    and kept while this thread works with it."""
    me = threading.get_ident()
    with _lock:
        kept = _kept.get(me)
        if kept is not None and kept.key == source_key:
            kept.in_use = True
            stale = None
        else:
            stale, kept = _kept.pop(me, None), None
    if stale is not None:
        _remove(stale.folder)
    if kept is None:
        kept = _Kept(source_key, scratch.make_folder("part-"))
        try:  # the same checks as the coordinator's: the object may have changed since
            limit = services.settings.max_upload_bytes
            source = kept.folder / "source.pdf"
            pdfcheck.download_checked(services.storage, source_key, source, limit, etag)
        except BaseException:
            _remove(kept.folder)
            raise
        with _lock:
            _kept[me] = kept
        _start_sweeper()
    try:
        yield kept.folder / "source.pdf"
    finally:
        with _lock:
            kept.in_use, kept.last_used = False, time.monotonic()


def forget(source_key: str):
    """The job stopped: every copy of its source that no thread is using goes now."""
    with _lock:
        gone = [me for me, kept in _kept.items() if kept.key == source_key and not kept.in_use]
        folders = [_kept.pop(me).folder for me in gone]
    for folder in folders:
        _remove(folder)


def sweep(idle: float = IDLE_SECONDS) -> int:
    """Remove the copies no thread used for `idle` seconds; how many went."""
    now = time.monotonic()
    with _lock:
        gone = [
            me for me, kept in _kept.items() if not kept.in_use and now - kept.last_used >= idle
        ]
        folders = [_kept.pop(me).folder for me in gone]
    for folder in folders:
        _remove(folder)
    return len(folders)


def _start_sweeper():
    with _lock:
        if _sweeper:
            return
        thread = threading.Thread(target=_sweep_forever, name="part-sources", daemon=True)
        _sweeper.append(thread)
    thread.start()


def _sweep_forever():
    while True:
        time.sleep(IDLE_SECONDS / 3)
        sweep()


def _remove(folder: Path):
    shutil.rmtree(folder, ignore_errors=True)


@atexit.register
def _forget_all():
    with _lock:
        folders = [kept.folder for kept in _kept.values()]
        _kept.clear()
    for folder in folders:
        _remove(folder)
