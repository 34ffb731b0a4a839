"""`make run`: the whole service on one machine, with no Redis and no AWS.

Starts moto's S3 server (unless S3_ENDPOINT_URL points elsewhere), provisions the bucket,
then runs the Procfile's web and worker lines until Ctrl-C or SIGTERM. The web listens on
127.0.0.1 only (it runs without API tokens): `make run HOST=0.0.0.0` opens it to the network.
The processes are started and stopped by infra/supervise.py, in a session of its own: this
process only holds the pipe whose closing, however `make run` ends, stops them all in order.

moto keeps objects in memory, so a restart loses them; the queue and state are then started
clean too (their jobs would point at objects that are gone), so storage and state agree.

`python -m infra.dev cli ARGS...` (`make cli ARGS=...`) runs `flask pdf ARGS` with the
settings the running `make run` uses (infra/run_record.py), so the CLI reaches the same
local S3 and queue, and exits with the CLI's own exit code.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
from pathlib import Path

from core.settings import Settings, load_settings, process_environment, settings_or_exit
from infra import local_s3, run_record
from infra.run import procfile

__all__ = ["procfile", "local_environment", "cli", "main"]  # procfile: the tests' import

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_HOST = "127.0.0.1"
# `make run`'s own values where neither the shell nor .env sets one.
DEVELOPMENT_DEFAULTS = {
    "PORT": "8000",
    "LOG_FORMAT": "text",  # readable lines in a terminal
    # A laptop: without API_TOKENS the server runs open, with a loud warning (docs/security.md).
    "PDFQ_ENV": "development",
}


def local_environment(settings: Settings) -> dict[str, str]:
    """The environment `make run` gives every process: .env exported under the real
    environment, plus the local S3's endpoint, credentials and CORS origins when it is used."""
    env = process_environment()
    for name, value in DEVELOPMENT_DEFAULTS.items():
        env.setdefault(name, value)
    if not settings.s3_endpoint_url:
        env["S3_ENDPOINT_URL"] = f"http://127.0.0.1:{settings.local_s3_port}"
        for name, value in local_s3.FAKE_CREDENTIALS.items():
            env.setdefault(name, value)
        if not settings.cors_origins:  # the page (:PORT) and the local S3 are two origins
            port = env["PORT"]
            env["CORS_ORIGINS"] = f"http://127.0.0.1:{port},http://localhost:{port}"
    bin_dir = str(Path(sys.executable).parent)
    env["PATH"] = bin_dir + os.pathsep + env.get("PATH", "")
    return env


def cli_environment() -> dict[str, str]:
    """`make cli`'s environment: the running `make run`'s settings (its shell's included)
    under this shell's own, else what `make run` would start with."""
    running = run_record.read(load_settings().data_dir)
    if running is None:
        return local_environment(settings_or_exit())
    env = {**process_environment(), **running, **os.environ}
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    return env


def cli(args: list[str]) -> int:
    """`flask pdf ARGS` with `make run`'s settings; its exit code (docs/cli.md)."""
    settings_or_exit()  # a bad setting: its message and exit 2, before anything starts
    env = cli_environment()
    env.setdefault("FLASK_APP", "functions")
    flask = str(Path(sys.executable).parent / "flask")
    try:
        return subprocess.run([flask, "pdf", *args], env=env, cwd=ROOT).returncode
    except KeyboardInterrupt:
        return 130


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.dev", description=__doc__)
    parser.add_argument("--host", default=DEFAULT_HOST, help="address the web listens on")
    parser.add_argument("command", nargs="?", choices=["cli"], help="cli: run `flask pdf ...`")
    parser.add_argument("args", nargs=argparse.REMAINDER)
    options = parser.parse_args(argv)
    if options.command == "cli":
        return cli(options.args)
    settings = settings_or_exit()
    env = local_environment(settings)
    # gunicorn alone would bind 0.0.0.0:$PORT; GUNICORN_CMD_ARGS outranks gunicorn.conf.py.
    bind = f"--bind {options.host}:{env['PORT']}"
    env["GUNICORN_CMD_ARGS"] = f"{bind} {env.get('GUNICORN_CMD_ARGS', '')}".strip()
    control, keep = os.pipe()  # the supervisor reads `control`; only this process writes
    command = [sys.executable, "-m", "infra.supervise", "--control", str(control)]
    command += ["--host", options.host] + (["--local-s3"] if not settings.s3_endpoint_url else [])
    started: list[subprocess.Popen] = []

    stopping: list[bool] = []

    def stop(signum, frame):
        # Once: a second Ctrl-C (or make's own SIGTERM after the group's) changes nothing,
        # the supervisor is already stopping the worker, then web and storage. Two signals
        # that arrive together both reach this handler, before SIG_IGN can stop the second.
        for name in ("SIGINT", "SIGTERM", "SIGHUP"):
            signal.signal(getattr(signal, name), signal.SIG_IGN)
        if stopping:
            return
        stopping.append(True)
        os.close(keep)
        if not started:
            raise SystemExit(0)  # stopped before anything started
        started[0].send_signal(signal.SIGTERM)

    for name in ("SIGINT", "SIGTERM", "SIGHUP"):
        signal.signal(getattr(signal, name), stop)
    started.append(
        subprocess.Popen(command, env=env, cwd=ROOT, pass_fds=(control,), start_new_session=True)
    )
    os.close(control)
    return started[0].wait()


if __name__ == "__main__":
    sys.exit(main())
