"""The worker's temporary folders, and the cleaning of those a killed worker left behind.

Each worker process keeps its job folders under one folder of its own, `pdfq-worker-*` in
the system's temp folder, holding an exclusively locked `lock` file for as long as the
process lives. The kernel drops the lock when the process dies, however it dies (SIGKILL,
the OOM killer), so a worker starting up removes every `pdfq-*` folder whose lock it can
take, and never one a live worker on the same machine still uses.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import shutil
import tempfile
import time
from pathlib import Path

log = logging.getLogger("pdfq.consumer")
PREFIX = "pdfq-"
LOCK = "lock"
# A `pdfq-*` folder with no lock file is one being made right now, or one made by a worker
# of an earlier layout: removed only when nothing touched it for this long.
UNLOCKED_GRACE_SECONDS = 24 * 3600

_owned: dict[int, tuple[Path, int]] = {}  # pid -> (its folder, the locked file's descriptor)


def root() -> Path:
    """This process's own folder (made, and locked, on first use; forked children make
    their own)."""
    pid = os.getpid()
    if pid not in _owned:
        folder = Path(tempfile.mkdtemp(prefix=PREFIX + "worker-"))
        fd = os.open(folder / LOCK, os.O_CREAT | os.O_RDWR, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        _owned[pid] = (folder, fd)
    return _owned[pid][0]


def job_folder(prefix: str) -> tempfile.TemporaryDirectory:
    """A temporary folder for one job or part, removed when its `with` ends."""
    return tempfile.TemporaryDirectory(prefix=PREFIX + prefix, dir=root())


def make_folder(prefix: str) -> Path:
    """A temporary folder the caller removes itself."""
    return Path(tempfile.mkdtemp(prefix=PREFIX + prefix, dir=root()))


def clean_leftovers(parent: Path | None = None) -> int:
    """Remove the `pdfq-*` folders in `parent` (the system's temp folder) that belong to
    no live process; the number removed."""
    parent = parent or Path(tempfile.gettempdir())
    mine = {folder for folder, _ in _owned.values()}
    removed = 0
    for folder in parent.glob(PREFIX + "*"):
        if folder in mine or not folder.is_dir() or folder.is_symlink():
            continue
        if _abandoned(folder):
            shutil.rmtree(folder, ignore_errors=True)
            removed += 1
    if removed:
        log.info("removed %d temporary folders left by workers that died", removed)
    return removed


def _abandoned(folder: Path) -> bool:
    try:
        fd = os.open(folder / LOCK, os.O_RDWR)
    except FileNotFoundError:
        with contextlib.suppress(FileNotFoundError):
            return time.time() - folder.stat().st_mtime > UNLOCKED_GRACE_SECONDS
        return False
    except OSError:
        return False  # not ours to judge (another user's folder)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False  # a live worker holds it
    finally:
        os.close(fd)
    return True
