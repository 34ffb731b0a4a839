"""`python -m infra.run <name>` (Docker, Compose, supervisor): the Procfile line, with .env
exported first, so the line's own ${HUEY_WORKERS} sees what the settings see."""

import signal
import subprocess
import sys

import pytest

from tests.support.servers import ROOT, child_env, wait_for_log

pytestmark = pytest.mark.e2e


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
        output = wait_for_log(log, "Huey consumer started", worker, timeout=60)
        assert "Huey consumer started with 3 thread" in output, output[-2000:]
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=60)
