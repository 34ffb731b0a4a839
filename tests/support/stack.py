"""The real service as separate processes: gunicorn and huey_consumer from the Procfile,
a private redis-server and moto's S3 server, talked to over HTTP like a client would."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

from consumer import tasks
from core.adapters.storage import Storage
from core.services import build
from core.settings import Settings, load_settings
from infra import local_s3
from infra.dev import procfile
from tests.support.api import multipart
from tests.support.servers import ROOT, Proc, child_env, free_port

TERMINAL = {"succeeded", "failed", "canceled", "deleted"}


class Stack:
    def __init__(
        self, redis_url: str, s3_url: str, folder: Path, port: int | None = None, **settings: str
    ):
        # A port chosen beforehand lets settings name the page's origin (CORS_ORIGINS).
        self.port = port or free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        # Sent as the bearer token on every request when set (API_TOKENS in `settings`).
        self.token: str | None = None
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.env = child_env(
            PDFQ_ENV_FILE="",
            HUEY_REDIS_URL=redis_url,
            HUEY_QUEUE_NAME=f"q{uuid.uuid4().hex[:8]}",
            S3_ENDPOINT_URL=s3_url,
            S3_BUCKET=f"pdfq-{uuid.uuid4().hex[:12]}",
            PDFQ_DATA_DIR=str(folder / "data"),
            PORT=str(self.port),
            WEB_CONCURRENCY="2",
            LOG_LEVEL="info",
            **local_s3.FAKE_CREDENTIALS,
        )
        self.env.update(settings)
        subprocess.run(
            [sys.executable, "-m", "infra.provision"],
            env=self.env,
            cwd=ROOT,
            check=True,
            capture_output=True,
        )
        self.procs: dict[str, Proc] = {}
        try:
            for name in ("web", "worker"):
                self.start(name)
            health = self.base + "/api/v1/pdf/health"
            local_s3.wait_until_up(health, process=self.procs["web"].process)
        except BaseException:
            self.stop()  # no process outlives a stack that failed to start
            raise

    def start(self, name: str, *, line: str | None = None, **env: str):
        """Start (or restart, as a platform would) one Procfile process; `line` runs another
        Procfile line under this name (a second worker host), with `env` on top."""
        if name in self.procs:
            self._stop(name)
        command = procfile()[line or name]
        self.procs[name] = Proc(
            name, ["sh", "-c", "exec " + command], {**self.env, **env}, self.folder
        )

    def stop(self):
        for name in self.procs:
            self._stop(name)

    def _stop(self, name: str):
        # As a platform stops them: gunicorn drains on SIGTERM in a second (on SIGINT its
        # gthread workers sit out the whole kill timeout); the worker stops at once on SIGINT.
        self.procs[name].stop(signal.SIGTERM if name == "web" else signal.SIGINT)

    def waiting_tasks(self) -> list[str]:
        """The names of the tasks in the stack's queue and schedule, read from its Redis."""
        return waiting_tasks(load_settings(self.env))

    def run(self, *args: str) -> subprocess.CompletedProcess:
        """`python -m ...` with the stack's settings (a CLI run on the same deployment)."""
        return subprocess.run(
            [sys.executable, "-m", *args],
            env=self.env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )

    def logs(self) -> str:
        return "\n".join(f"--- {n} ---\n{p.log()[-4000:]}" for n, p in self.procs.items())

    # --- a client's view ---

    def _auth(self, req: urllib.request.Request, headers: dict | None):
        if self.token:
            req.add_header("Authorization", f"Bearer {self.token}")
        for name, value in (headers or {}).items():
            req.add_header(name, value)

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        content_type: str | None = None,
        headers: dict | None = None,
    ) -> tuple[int, dict | str, dict]:
        req = urllib.request.Request(self.base + path, data=body, method=method)
        if content_type:
            req.add_header("Content-Type", content_type)
        self._auth(req, headers)
        try:
            with urllib.request.urlopen(req, timeout=60) as response:  # noqa: S310 - loopback
                status, headers, raw = response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as error:
            status, headers, raw = error.code, dict(error.headers), error.read()
        if headers.get("Content-Type", "").startswith("application/json"):
            return status, json.loads(raw), headers
        return status, raw.decode("utf-8"), headers

    def post_json(self, path: str, payload, headers: dict | None = None) -> tuple[int, dict]:
        req = urllib.request.Request(
            self.base + path, data=json.dumps(payload).encode(), method="POST"
        )
        req.add_header("Content-Type", "application/json")
        self._auth(req, headers)
        try:
            with urllib.request.urlopen(req, timeout=60) as response:  # noqa: S310 - loopback
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    def storage(self) -> Storage:
        """The stack's bucket, as the web and the worker see it."""
        names = ("S3_ENDPOINT_URL", "S3_BUCKET", "S3_PUBLIC_ENDPOINT_URL", "MAX_UPLOAD_BYTES")
        return Storage(load_settings({n: self.env[n] for n in names if n in self.env}))

    def state(self):
        """The stack's state store (its Redis, its queue's names), as the processes see it."""
        return build(load_settings(self.env)).state

    def upload(self, path: Path) -> tuple[int, dict]:
        body, content_type = multipart(path.read_bytes(), path.name)
        status, payload, _ = self.request("POST", "/api/v1/pdf/documents", body, content_type)
        return status, payload

    def job(self, job_id: str) -> dict:
        status, job, _ = self.request("GET", f"/api/v1/pdf/jobs/{job_id}")
        assert status == 200, job
        return job

    def wait_until(self, job_id: str, predicate, timeout: float = 60) -> dict:
        """Poll one job until predicate(job) holds."""
        deadline = time.monotonic() + timeout
        while not predicate(job := self.job(job_id)):
            if time.monotonic() > deadline:
                raise AssertionError(f"job {job_id} never got there: {job}\n{self.logs()}")
            time.sleep(0.1)
        return job

    def wait(self, job_ids: list[str], timeout: float = 180) -> dict[str, dict]:
        """Poll each job's status URL until all are terminal."""
        deadline = time.monotonic() + timeout
        done: dict[str, dict] = {}
        while len(done) < len(job_ids):
            for job_id in job_ids:
                if job_id not in done:
                    _, job, _ = self.request("GET", f"/api/v1/pdf/jobs/{job_id}")
                    if job["status"] in TERMINAL:
                        done[job_id] = job
            if time.monotonic() > deadline:
                pending = sorted(set(job_ids) - set(done))
                raise AssertionError(
                    f"jobs not terminal after {timeout}s: {pending}\n{self.logs()}"
                )
            time.sleep(0.2)
        return done


def waiting_tasks(settings: Settings) -> list[str]:
    """The names of the tasks in the queue and schedule that `settings` name."""
    services = build(settings)
    tasks.register(services)
    return [task.name for task in services.huey.pending() + services.huey.scheduled()]
