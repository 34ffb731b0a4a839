"""`make run`: the whole service on one machine, with no Redis and no AWS.

Starts moto's S3 server (unless S3_ENDPOINT_URL points elsewhere), provisions the bucket,
then runs the Procfile's web and worker lines until Ctrl-C.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from core.settings import settings_or_exit
from infra import local_s3

ROOT = Path(__file__).resolve().parent.parent


def procfile(path: Path = ROOT / "Procfile") -> dict[str, str]:
    """The Procfile as {process type: command}."""
    lines = (line.split(":", 1) for line in path.read_text().splitlines() if ":" in line)
    return {name.strip(): command.strip() for name, command in lines}


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def main() -> int:
    # Ctrl-C and a plain `kill` both stop every child, even when started in the background.
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    env = dict(os.environ)
    env.setdefault("PORT", "8000")
    env.setdefault("LOG_FORMAT", "text")  # readable lines in a terminal
    # A laptop: without API_TOKENS the server runs open, with a loud warning (docs/security.md).
    env.setdefault("PDFQ_ENV", "development")
    children: list[subprocess.Popen] = []
    settings = settings_or_exit()
    if not settings.s3_endpoint_url:
        port = settings.local_s3_port
        print(f"dev: starting local S3 (moto server) on 127.0.0.1:{port}", flush=True)
        children.append(local_s3.start(port))
        env["S3_ENDPOINT_URL"] = f"http://127.0.0.1:{port}"
        for name, value in local_s3.FAKE_CREDENTIALS.items():
            env.setdefault(name, value)
        if not settings.cors_origins:  # the page (:PORT) and the local S3 are two origins
            env["CORS_ORIGINS"] = f"http://127.0.0.1:{env['PORT']},http://localhost:{env['PORT']}"
    bin_dir = str(Path(sys.executable).parent)
    env["PATH"] = bin_dir + os.pathsep + env.get("PATH", "")

    try:
        subprocess.run([sys.executable, "-m", "infra.provision"], env=env, check=True, cwd=ROOT)
        commands = procfile()
        for name in ("web", "worker"):
            print(f"dev: {name}: {commands[name]}", flush=True)
            children.append(
                subprocess.Popen(["sh", "-c", "exec " + commands[name]], env=env, cwd=ROOT)
            )
        print(f"dev: ready on http://127.0.0.1:{env['PORT']} (Ctrl-C stops everything)", flush=True)
        if not settings.s3_endpoint_url:  # the CLI must reach the same local S3
            cli_env = " ".join(
                f"{name}={env[name]}" for name in ("S3_ENDPOINT_URL", *local_s3.FAKE_CREDENTIALS)
            )
            print(f"dev: for `flask --app functions pdf ...` set: {cli_env}", flush=True)
        while all(child.poll() is None for child in children):
            time.sleep(0.5)
        return 1
    except KeyboardInterrupt:
        return 0
    except subprocess.CalledProcessError:
        return 1
    finally:
        for child in reversed(children):
            if child.poll() is None:
                child.send_signal(signal.SIGINT)
        for child in reversed(children):
            try:
                child.wait(timeout=20)
            except subprocess.TimeoutExpired:
                child.kill()


if __name__ == "__main__":
    sys.exit(main())
