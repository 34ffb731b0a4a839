"""`make run`: the whole service on one machine, with no Redis and no AWS.

Starts moto's S3 server (unless S3_ENDPOINT_URL points elsewhere), provisions the bucket,
then runs the Procfile's web and worker lines until Ctrl-C or SIGTERM. The web listens on
127.0.0.1 only (it runs without API tokens): `make run HOST=0.0.0.0` opens it to the network.

moto keeps objects in memory, so a restart loses them; the queue and state are then started
clean too (their jobs would point at objects that are gone), so storage and state agree.

`python -m infra.dev cli ARGS...` (`make cli ARGS=...`) runs `flask pdf ARGS` with the same
settings `make run` gives its processes, so the CLI reaches the same local S3.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from core.adapters.queue import make_huey
from core.adapters.redisconn import connection_pool
from core.settings import Settings, load_settings, process_environment, settings_or_exit
from infra import local_s3

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_HOST = "127.0.0.1"


def procfile(path: Path = ROOT / "Procfile") -> dict[str, str]:
    """The Procfile as {process type: command}."""
    lines = (line.split(":", 1) for line in path.read_text().splitlines() if ":" in line)
    return {name.strip(): command.strip() for name, command in lines}


def local_environment(settings: Settings) -> dict[str, str]:
    """The environment `make run` gives every process: .env exported under the real
    environment, plus the local S3's endpoint, credentials and CORS origins when it is used."""
    env = process_environment()
    env.setdefault("PORT", "8000")
    env.setdefault("LOG_FORMAT", "text")  # readable lines in a terminal
    # A laptop: without API_TOKENS the server runs open, with a loud warning (docs/security.md).
    env.setdefault("PDFQ_ENV", "development")
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


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def cli(args: list[str]) -> int:
    """`flask pdf ARGS` with `make run`'s settings (the local S3 when it is the one used)."""
    env = local_environment(settings_or_exit())
    env.setdefault("FLASK_APP", "functions")
    flask = str(Path(sys.executable).parent / "flask")
    return subprocess.run([flask, "pdf", *args], env=env, cwd=ROOT).returncode


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.dev", description=__doc__)
    parser.add_argument("--host", default=DEFAULT_HOST, help="address the web listens on")
    parser.add_argument("command", nargs="?", choices=["cli"], help="cli: run `flask pdf ...`")
    parser.add_argument("args", nargs=argparse.REMAINDER)
    options = parser.parse_args(argv)
    if options.command == "cli":
        return cli(options.args)
    # Ctrl-C and a plain `kill` both stop every child, even when started in the background.
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    settings = settings_or_exit()
    env = local_environment(settings)
    # gunicorn alone would bind 0.0.0.0:$PORT; GUNICORN_CMD_ARGS outranks gunicorn.conf.py.
    bind = f"--bind {options.host}:{env['PORT']}"
    env["GUNICORN_CMD_ARGS"] = f"{bind} {env.get('GUNICORN_CMD_ARGS', '')}".strip()
    children: list[subprocess.Popen] = []
    try:
        if not settings.s3_endpoint_url:
            port = settings.local_s3_port
            print(f"dev: starting local S3 (moto server, in memory) on 127.0.0.1:{port}")
            children.append(local_s3.start(port))
            cleaned = start_clean(load_settings(env, dotenv=False))
            print(f"dev: the local S3 starts empty, so did {cleaned}", flush=True)
        subprocess.run([sys.executable, "-m", "infra.provision"], env=env, check=True, cwd=ROOT)
        commands = procfile()
        for name in ("web", "worker"):
            print(f"dev: {name}: {commands[name]}", flush=True)
            # Own session: Ctrl-C's SIGINT would interrupt running jobs (TERM is graceful).
            command = ["sh", "-c", "exec " + commands[name]]
            children.append(subprocess.Popen(command, env=env, cwd=ROOT, start_new_session=True))
        url = f"http://{options.host}:{env['PORT']}"
        print(f"dev: ready on {url} (Ctrl-C stops everything)", flush=True)
        if options.host == DEFAULT_HOST:
            print("dev: loopback only; `make run HOST=0.0.0.0` listens on every interface")
        print('dev: the CLI with these settings: make cli ARGS="submit file.pdf"', flush=True)
        while all(child.poll() is None for child in children):
            time.sleep(0.5)
        return 1
    except KeyboardInterrupt:
        return 0
    except subprocess.CalledProcessError:
        return 1
    finally:
        # SIGTERM, as Heroku, Render, Docker and supervisor stop them: gunicorn finishes its
        # requests and huey_consumer (--graceful-signal TERM) lets running jobs finish.
        for child in reversed(children):
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for child in reversed(children):
            try:
                child.wait(timeout=30)
            except subprocess.TimeoutExpired:
                child.kill()


if __name__ == "__main__":
    sys.exit(main())
