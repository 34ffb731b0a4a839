"""`python -m infra.run <name>` (Docker, Compose, supervisor): the Procfile line, with .env
exported first, so the line's own ${HUEY_WORKERS} sees what the settings see."""

import signal
import subprocess
import sys
import time

import pytest

from tests.support.servers import ROOT, child_env

pytestmark = pytest.mark.e2e


def wait_for(path, text: str, process: subprocess.Popen, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        output = path.read_text()
        if text in output or process.poll() is not None:
            return output
        time.sleep(0.2)
    return path.read_text()


def test_huey_workers_in_dotenv_reaches_the_worker_line(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text("HUEY_WORKERS=3\nHUEY_WORKER_TYPE=thread\n")
    log = tmp_path / "worker.log"
    env = child_env(PDFQ_ENV_FILE=str(env_file), PDFQ_DATA_DIR=str(tmp_path / "data"))
    for name in ("HUEY_WORKERS", "HUEY_WORKER_TYPE", "HUEY_IMMEDIATE"):
        env.pop(name, None)  # only the file says it
    with log.open("w") as out:
        worker = subprocess.Popen(
            [sys.executable, "-m", "infra.run", "worker"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        output = wait_for(log, "Huey consumer started", worker)
        assert "Huey consumer started with 3 thread" in output, output[-2000:]
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=60)
