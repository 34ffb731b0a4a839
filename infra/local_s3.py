"""A local S3-compatible server (moto's), for `make run` and the tests: no AWS needed."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import IO

FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "pdfq-local",
    "AWS_SECRET_ACCESS_KEY": "pdfq-local-secret",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def wait_until_up(url: str, timeout: float = 30.0, process: subprocess.Popen | None = None):
    """Poll `url` until any HTTP answer comes back; fail early if `process` exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{process.args!r} exited with {process.returncode} while starting")
        try:
            urllib.request.urlopen(url, timeout=2).close()  # noqa: S310 - a loopback URL we built
            return
        except urllib.error.HTTPError:
            return  # it answered, even if with an error status
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer within {timeout:.0f} s")


def start(
    port: int,
    host: str = "127.0.0.1",
    log: IO | None = None,
    preexec_fn: Callable[[], None] | None = None,
) -> subprocess.Popen:
    """Start moto's server on host:port and return once it answers (`preexec_fn` runs in
    the child before moto: infra/supervise.py ties its life to make run's)."""
    exe = shutil.which("moto_server", path=str(Path(sys.executable).parent)) or "moto_server"
    process = subprocess.Popen(
        [exe, "-H", host, "-p", str(port)],
        stdout=log or subprocess.DEVNULL,
        stderr=subprocess.STDOUT if log else subprocess.DEVNULL,
        # Its own session: a terminal's Ctrl-C reaches only `make run`, whose supervisor
        # stops the worker first, then this store the worker is still writing to.
        start_new_session=True,
        preexec_fn=preexec_fn,
    )
    try:
        wait_until_up(f"http://{host}:{port}/moto-api/", process=process)
    except BaseException:
        process.kill()
        raise
    return process
