"""`make run` (infra/dev.py) for real: loopback only, storage and state that agree after a
restart, the CLI and `provision --check` beside it, and a stop that lets jobs finish."""

import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from consumer import tasks
from core.adapters.queue import EXTRACT_DOCUMENT
from core.adapters.state import SqliteState
from core.services import build
from core.settings import load_settings
from infra import local_s3
from tests.support.servers import ROOT, child_env, free_port, wait_for_log
from tests.support.stack import waiting_tasks

pytestmark = pytest.mark.e2e


def listening_addresses(port: int) -> set[str]:
    """Local addresses (hex, as /proc/net/tcp writes them) with a socket listening on `port`."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, _, hex_port = local.rpartition(":")
            if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                found.add(address)
    return found


def test_make_run_listens_on_loopback_starts_clean_and_stops_the_worker_gently(tmp_path):
    port, s3_port, data = free_port(), free_port(), tmp_path / "data"
    env = child_env(
        PDFQ_ENV_FILE="",
        PORT=str(port),
        LOCAL_S3_PORT=str(s3_port),
        PDFQ_DATA_DIR=str(data),
        S3_BUCKET="dev-test",
    )
    for name in ("S3_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "PDFQ_ENV"):
        env.pop(name, None)  # as on a fresh laptop
    # What an earlier `make run` left: a task scheduled for tomorrow and some state, both about
    # objects its in-memory S3 no longer has.
    settings = load_settings({"PDFQ_DATA_DIR": str(data)})
    earlier = build(settings)
    tasks.register(earlier)
    earlier.queue.put(EXTRACT_DOCUMENT, "sources/public/gone.pdf", delay=86400)
    assert earlier.queue.pending() == 1  # the consumer would move it to its schedule
    SqliteState(data / "state.sqlite3").set("leftover", "1", ttl=86400)

    log = tmp_path / "dev.log"
    with log.open("w") as out:
        dev = subprocess.Popen(
            [sys.executable, "-m", "infra.dev"], cwd=ROOT, env=env, stdout=out, stderr=out
        )
    try:
        output = wait_for_log(log, "dev: ready", dev, timeout=120)
        assert "dev: ready on http://127.0.0.1:" in output, output[-3000:]
        local_s3.wait_until_up(f"http://127.0.0.1:{port}/api/v1/pdf/health/live")
        assert listening_addresses(port) == {"0100007F"}  # 127.0.0.1, nothing else
        left = waiting_tasks(settings)
        assert left in ([], ["recover_jobs"]), left  # only the consumer's pass after its start
        assert SqliteState(data / "state.sqlite3").get("leftover") is None
        health = urllib.request.Request(
            f"http://127.0.0.1:{port}/api/v1/pdf/health",
            headers={"X-Request-ID": "router-id-0001"},
        )
        with urllib.request.urlopen(health) as answer:  # noqa: S310 - loopback
            assert answer.status == 200
            assert answer.headers["X-Request-ID"] == "router-id-0001"

        # `make cli ARGS=queue`: the CLI reaches the same local S3 and queue.
        cli = subprocess.run(
            [sys.executable, "-m", "infra.dev", "cli", "queue"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert cli.returncode == 0, cli.stderr
        assert "backend\tsqlite" in cli.stdout
        assert "{" not in cli.stderr  # no JSON log lines in a person's terminal

        # `provision --check` from another shell, without make run's CORS_ORIGINS.
        shell = {**env, "S3_ENDPOINT_URL": f"http://127.0.0.1:{s3_port}"}
        shell.update(local_s3.FAKE_CREDENTIALS)
        check = subprocess.run(
            [sys.executable, "-m", "infra.provision", "--check"],
            cwd=ROOT,
            env=shell,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert f"uploads allowed from http://127.0.0.1:{port}" in check.stdout, check.stderr
        assert check.returncode == 0, check.stdout + check.stderr
    finally:
        dev.send_signal(signal.SIGTERM)
        dev.wait(timeout=90)
    output = log.read_text()
    # SIGTERM, the worker's graceful signal (Procfile: --graceful-signal TERM): running jobs
    # finish. SIGINT would have made huey shut down at once.
    assert "Shutting down gracefully" in output, output[-3000:]
    # gunicorn's access line for that request carries the router's id.
    assert "[req router-id-0001] GET /api/v1/pdf/health 200" in output, output[-3000:]
