"""What a running `make run` serves with, written where `make cli` and `flask pdf` read it.

`make run` may be started with settings its shell alone has (`HUEY_REDIS_URL=... make run`)
and gives its processes some of its own (the local S3's endpoint and credentials). It writes
them here, in PDFQ_DATA_DIR, while it runs, so `make cli` in another shell reaches the same
queue and storage, and a plain `flask pdf` that cannot reach storage can say how to. The
file holds credentials (the local S3's, and any the shell had): it is the user's only (0600),
like .env, and removed when `make run` stops.
"""

from __future__ import annotations

import os
from pathlib import Path

from dotenv import dotenv_values

from core.settings import setting_names

NAME = "make-run.env"
# Read by boto3 or gunicorn rather than by the settings.
OTHER_VARIABLES = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")
OTHER_VARIABLES += ("AWS_PROFILE", "PORT")
_PID = "PDFQ_MAKE_RUN_PID"  # the line naming the process that wrote it


def path(data_dir: Path) -> Path:
    return data_dir / NAME


def write(data_dir: Path, env: dict[str, str], pid: int) -> Path:
    """Record the variables of `env` that pdfq, boto3 or gunicorn read; `pid` owns it."""
    names = [*setting_names(), *OTHER_VARIABLES]
    lines = [f"# Written by `make run` (infra/run_record.py) while it runs.\n{_PID}={pid}"]
    for name in names:
        if name in env:
            value = env[name].replace("\\", "\\\\").replace('"', '\\"')
            lines.append(f'{name}="{value}"')
    target = path(data_dir)
    target.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as out:
        out.write("\n".join(lines) + "\n")
    return target


def read(data_dir: Path) -> dict[str, str] | None:
    """The variables of the `make run` running now, or None (none ran, or it is gone)."""
    target = path(data_dir)
    if not target.is_file():
        return None
    values = {k: v for k, v in dotenv_values(target).items() if v is not None}
    pid = values.pop(_PID, "")
    if not pid.isdigit() or not _alive(int(pid)):
        return None  # left by a `make run` that was killed with everything it started
    return values


def remove(data_dir: Path, pid: int):
    """Remove the record if `pid` wrote it (a later `make run` may have replaced it)."""
    target = path(data_dir)
    if target.is_file() and dotenv_values(target).get(_PID) == str(pid):
        target.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
