"""The PDFs page images are drawn from: a job's PDF copied from storage once, then kept in
this process for a minute, so paging through a document copies it once, not once a page.

At most KEPT copies, each for KEEP_SECONDS after it was last used, in this process's scratch
folder (consumer/scratch.py: a killed process's folder is removed by the next one to start).
A copy in use by a drawing is removed only when that drawing ends. Only the job's owner can
reach a copy, through a record that still exists: a job erased is answered 410 before any
copy is looked at, and its copy goes at the latest KEEP_SECONDS later.
"""

from __future__ import annotations

import contextlib
import shutil
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from pathlib import Path

from consumer import scratch

KEEP_SECONDS = 60.0
KEPT = 2
_now = time.monotonic  # the copies' clock (a test moves it on)


class _Copy:
    def __init__(self, folder: Path):
        self.folder, self.path = folder, folder / "source.pdf"
        self.users = 0
        self.doomed = False
        self.until = _now() + KEEP_SECONDS


_lock = threading.Lock()
_copies: OrderedDict[str, _Copy] = OrderedDict()


@contextlib.contextmanager
def copy_of(name: str, fetch: Callable[[Path], None]) -> Iterator[Path]:
    """The path of a copy of the PDF `name` (a job's tenant/id), made with `fetch(path)`
    unless a fresh one is kept; the copy stays while the `with` block runs."""
    with _lock:
        _sweep()
        copy = _copies.get(name)
        if copy is not None:
            copy.users += 1
            copy.until = _now() + KEEP_SECONDS
            _copies.move_to_end(name)
    if copy is None:
        copy = _Copy(scratch.make_folder("page-source-"))
        try:
            fetch(copy.path)
        except BaseException:
            shutil.rmtree(copy.folder, ignore_errors=True)
            raise
        copy.users = 1
        with _lock:
            replaced = _copies.pop(name, None)  # another request copied it meanwhile
            _copies[name] = copy
            doomed = [replaced] if replaced else []
            while len(_copies) > KEPT:
                doomed.append(_copies.popitem(last=False)[1])
            for old in doomed:
                _doom(old)
        timer = threading.Timer(KEEP_SECONDS + 1, sweep)
        timer.daemon = True
        timer.start()
    try:
        yield copy.path
    finally:
        with _lock:
            copy.users -= 1
            if copy.doomed and copy.users == 0:
                shutil.rmtree(copy.folder, ignore_errors=True)


def sweep():
    """Remove the copies unused for KEEP_SECONDS."""
    with _lock:
        _sweep()


def forget(name: str):
    """Remove the copy of `name` now (its job was erased through this process)."""
    with _lock:
        copy = _copies.pop(name, None)
        if copy is not None:
            _doom(copy)


def clear():
    """Remove every copy (each in use, once its drawing ends)."""
    with _lock:
        while _copies:
            _doom(_copies.popitem()[1])


def kept() -> list[Path]:
    with _lock:
        return [copy.path for copy in _copies.values()]


def _sweep():
    now = _now()
    for name in [name for name, copy in _copies.items() if copy.until <= now]:
        _doom(_copies.pop(name))


def _doom(copy: _Copy):
    """Called with the lock held: removed now, or by its last user."""
    copy.doomed = True
    if copy.users == 0:
        shutil.rmtree(copy.folder, ignore_errors=True)
