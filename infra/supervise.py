"""`make run`'s supervisor: the local S3, the web and the worker, started and stopped in order.

    python -m infra.supervise --control FD [--host HOST]

infra/dev.py starts this in a session of its own and holds the write end of a pipe whose
read end is FD. When `make run` ends in any way (Ctrl-C, a plain `kill`, SIGKILL from an
IDE's stop button, an OOM kill, the terminal closing) that end closes, and this process
stops everything it started, the worker first: running jobs finish while the web and storage
still answer (HUEY_SHUTDOWN_TIMEOUT), then the web, then the local S3. Each child also gets
SIGTERM from the kernel should this process itself die (PR_SET_PDEATHSIG), so nothing
outlives `make run` and holds its ports.

Every child runs in a session of its own, as on a platform: a terminal's Ctrl-C reaches
`make run` only, never a running job (SIGINT would make huey stop it at once).
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import os
import select
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from core.adapters.queue import make_huey
from core.adapters.redisconn import connection_pool, unreachable
from core.errors import PdfqError
from core.settings import Settings, load_settings
from infra import local_s3, run_record
from infra.run import procfile

ROOT = Path(__file__).resolve().parent.parent
LIVE_PATH = "/api/v1/pdf/health/live"
WEB_START_TIMEOUT = 120.0  # seconds the web may take to answer once started
STORAGE_STOP_TIMEOUT = 10.0
WEB_STOP_TIMEOUT = 30.0  # gunicorn.conf.py: graceful_timeout 25


class Stopping(Exception):
    """`make run` has ended: stop everything, in order."""


class StartFailed(Exception):
    """Something `make run` needs is not there; the message says what and how to fix it."""


def say(text: str):
    """One line on make run's terminal; a terminal that is gone changes nothing."""
    with contextlib.suppress(OSError):  # stdout closed with make run (a harness that left)
        print(f"dev: {text}", flush=True)


def die_with_parent():
    """In a child before exec: SIGTERM when this supervisor dies (Linux), however it dies."""
    if sys.platform.startswith("linux"):
        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def start_clean(settings: Settings) -> str:
    """Empty the queue and the state store: the local S3 starts empty, so must they."""
    make_huey(settings).flush()  # queued and scheduled tasks (SQLite or Redis)
    if settings.redis_url:
        import redis

        client = redis.Redis(connection_pool=connection_pool(settings))
        prefix = f"pdfq:{settings.queue_name}:"  # RedisState's keys (core/keys.py)
        for key in client.scan_iter(match=prefix + "*", count=1000):
            client.delete(key)
        return f"the queue {settings.queue_name!r} and its state in Redis"
    for path in settings.data_dir.glob("state.sqlite3*"):
        path.unlink()
    return f"the queue and state in {settings.data_dir}"


def clean_or_explain(settings: Settings) -> str:
    """start_clean, with a Redis that does not answer said in one line that names the fix."""
    import redis

    try:
        return start_clean(settings)
    except (redis.ConnectionError, redis.TimeoutError) as exc:
        raise StartFailed(
            f"{unreachable(settings.redis_url, exc).message} Start it (redis-server), or "
            "leave HUEY_REDIS_URL and REDIS_URL unset for the embedded SQLite queue."
        ) from None
    except PdfqError as exc:  # the queue's own words (an unreachable Redis among them)
        raise StartFailed(exc.message) from None


class Supervisor:
    def __init__(self, env: dict[str, str], host: str, control: int, local_s3: bool):
        self.env = env
        self.host = host
        self.control = control
        self.local_s3 = local_s3
        self.stopping = False  # set once: the stop runs once, whatever else arrives
        self.settings = load_settings(env, dotenv=False)
        self.children: dict[str, subprocess.Popen] = {}  # storage, web, worker

    # --- make run's end ---

    def check_control(self, timeout: float = 0.0):
        """Raise Stopping once infra.dev's end of the pipe has closed."""
        readable, _, _ = select.select([self.control], [], [], timeout)
        if readable and not os.read(self.control, 1):
            self.request_stop()

    def request_stop(self):
        if not self.stopping:
            self.stopping = True
            raise Stopping

    def wait(self, seconds: float):
        """Sleep, waking for make run's end."""
        self.check_control(seconds)

    # --- start ---

    def start(self, name: str, command: list[str]) -> subprocess.Popen:
        child = subprocess.Popen(
            command, env=self.env, cwd=ROOT, start_new_session=True, preexec_fn=die_with_parent
        )
        self.children[name] = child
        return child

    def run(self) -> int:
        settings = self.settings
        if self.local_s3:
            port = settings.local_s3_port
            say(f"starting local S3 (moto server, in memory) on 127.0.0.1:{port}")
            try:
                self.children["storage"] = local_s3.start(port, preexec_fn=die_with_parent)
            except (RuntimeError, TimeoutError) as exc:
                raise StartFailed(
                    f"the local S3 could not start on 127.0.0.1:{port} ({exc}): is something "
                    f"else listening there? LOCAL_S3_PORT=<another port> make run picks another"
                ) from None
            cleaned = clean_or_explain(settings)
            say(f"the local S3 starts empty, so did {cleaned}")
        self.check_control()
        provision = self.start("provision", [sys.executable, "-m", "infra.provision"])
        while provision.poll() is None:
            self.wait(0.2)
        del self.children["provision"]
        if provision.returncode:
            say(f"provisioning failed (exit {provision.returncode}): its message is above")
            return 1
        run_record.write(settings.data_dir, self.env, os.getpid())
        commands = procfile()
        for name in ("web", "worker"):
            say(f"{name}: {commands[name]}")
            self.start(name, ["sh", "-c", "exec " + commands[name]])
        if not self.wait_for_web():
            return 1
        url = f"http://{self.host}:{self.env['PORT']}"
        say(f"ready on {url} (Ctrl-C stops everything)")
        if self.host == "127.0.0.1":
            say("loopback only; `make run HOST=0.0.0.0` listens on every interface")
        say('the CLI with these settings: make cli ARGS="submit samples/report.pdf"')
        while True:
            self.wait(0.5)
            for name, child in self.children.items():
                if child.poll() is not None:
                    say(f"the {name} exited (code {child.returncode}); stopping the rest")
                    return 1

    def wait_for_web(self) -> bool:
        """True once the web answers its liveness check; False if it exits first."""
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host  # noqa: S104
        url = f"http://{host}:{self.env['PORT']}{LIVE_PATH}"
        deadline = time.monotonic() + WEB_START_TIMEOUT
        while time.monotonic() < deadline:
            for name, child in self.children.items():
                if child.poll() is not None:
                    code = child.returncode
                    say(f"the {name} exited (code {code}) before the web answered; see above")
                    return False
            try:
                urllib.request.urlopen(url, timeout=2).close()  # noqa: S310 - our own URL
                return True
            except urllib.error.HTTPError:
                return True  # it answered
            except OSError:
                self.wait(0.2)
        say(f"the web did not answer {url} within {WEB_START_TIMEOUT:.0f} s")
        return False

    # --- stop ---

    def stop(self):
        """The worker first (running jobs finish while storage answers), then web, storage."""
        timeouts = {
            "provision": STORAGE_STOP_TIMEOUT,
            "worker": self.settings.shutdown_timeout + 10,
            "web": WEB_STOP_TIMEOUT,
            "storage": STORAGE_STOP_TIMEOUT,
        }
        for name in ("provision", "worker", "web", "storage"):
            child = self.children.get(name)
            if child is None:
                continue
            if child.poll() is None:
                say(f"stopping the {name}")
                child.send_signal(signal.SIGTERM)
                try:
                    child.wait(timeout=timeouts[name])
                except subprocess.TimeoutExpired:
                    say(f"the {name} did not stop in {timeouts[name]:.0f} s: killing it")
            _kill_group(child)
        run_record.remove(self.settings.data_dir, os.getpid())


def _kill_group(child: subprocess.Popen):
    """SIGKILL whatever is left of the child's session (its own children, a leader that
    would not stop), then reap the leader."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(child.pid, signal.SIGKILL)
    child.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.supervise", description=__doc__)
    parser.add_argument("--control", type=int, required=True, help="read end of infra.dev's pipe")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--local-s3", action="store_true", help="start moto at S3_ENDPOINT_URL")
    options = parser.parse_args(argv)

    supervisor = Supervisor(dict(os.environ), options.host, options.control, options.local_s3)
    for name in ("SIGINT", "SIGTERM", "SIGHUP"):
        signal.signal(getattr(signal, name), lambda signum, frame: supervisor.request_stop())
    code = 0
    try:
        code = supervisor.run()
    except Stopping:
        code = 0
    except StartFailed as exc:
        say(str(exc))
        code = 1
    finally:
        supervisor.stopping = True  # later signals are ignored: the stop below runs whole
        supervisor.stop()
    say("stopped")
    return code


if __name__ == "__main__":
    sys.exit(main())
