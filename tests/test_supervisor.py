"""deploy/supervisor/pdfq.conf runs for real: web and worker start, serve, and stop gently."""

import subprocess
import time
import uuid

import pytest

from infra import local_s3
from tests.support.servers import BIN, ROOT, child_env, free_port

pytestmark = pytest.mark.e2e


def test_supervisor_runs_web_and_worker_and_stops_the_worker_gracefully(
    redis_server, moto_server, tmp_path
):
    port = free_port()
    # The shipped config, with this checkout and a temp folder in place of /srv and /var/log.
    config = (ROOT / "deploy" / "supervisor" / "pdfq.conf").read_text()
    config = config.replace("/srv/pdfq", str(ROOT)).replace("/var/log/pdfq", str(tmp_path))
    config = config.replace('PORT="8000"', f'PORT="{port}"').replace("\nuser=pdfq", "\n;user=")
    (tmp_path / "pdfq.conf").write_text(config)
    socket = tmp_path / "supervisor.sock"
    (tmp_path / "supervisord.conf").write_text(
        f"[supervisord]\nlogfile={tmp_path}/supervisord.log\npidfile={tmp_path}/supervisord.pid\n"
        f"[unix_http_server]\nfile={socket}\n"
        "[rpcinterface:supervisor]\n"
        "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n"
        f"[supervisorctl]\nserverurl=unix://{socket}\n"
        f"[include]\nfiles={tmp_path}/pdfq.conf\n"
    )
    # The settings file, as /srv/pdfq/.env would hold them: infra.run exports it to both.
    (tmp_path / ".env").write_text("HUEY_WORKERS=3\nHUEY_WORKER_TYPE=thread\n")
    env = child_env(
        PDFQ_ENV_FILE=str(tmp_path / ".env"),
        HUEY_REDIS_URL=redis_server.url,
        HUEY_QUEUE_NAME=f"q{uuid.uuid4().hex[:8]}",
        S3_ENDPOINT_URL=moto_server,
        S3_BUCKET=f"sup-{uuid.uuid4().hex[:8]}",
        PDFQ_DATA_DIR=str(tmp_path / "data"),
        **local_s3.FAKE_CREDENTIALS,
    )
    subprocess.run([str(BIN / "python"), "-m", "infra.provision"], env=env, cwd=ROOT, check=True)

    def ctl(*args: str) -> str:
        command = [str(BIN / "supervisorctl"), "-c", str(tmp_path / "supervisord.conf"), *args]
        return subprocess.run(command, env=env, capture_output=True, text=True).stdout

    subprocess.run(
        [str(BIN / "supervisord"), "-c", str(tmp_path / "supervisord.conf")], env=env, check=True
    )
    try:
        local_s3.wait_until_up(f"http://127.0.0.1:{port}/api/v1/pdf/health", timeout=30)
        deadline = time.monotonic() + 30  # RUNNING once each has stayed up startsecs
        while (status := ctl("status")).count("RUNNING") < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert status.count("RUNNING") == 2, status
        assert "stopped" in ctl("stop", "pdfq:pdfq-worker")
        worker_log = (tmp_path / "worker.log").read_text()
        assert "Shutting down gracefully" in worker_log, worker_log[-2000:]
        assert "Huey consumer started with 3 thread" in worker_log  # from .env
    finally:
        ctl("shutdown")
        deadline = time.monotonic() + 20
        while (tmp_path / "supervisord.pid").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
