"""`make run` (infra/dev.py, infra/supervise.py) for real, as a newcomer runs it: with
.env.example copied to .env, the README's own upload command, `make cli` beside it, and a
stop (Ctrl-C, or SIGKILL to its process group) that finishes running jobs first and leaves
no process behind. Each test starts `make run` once and checks all it can on it."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import pytest
from pdfminer.high_level import extract_text

from consumer import tasks
from core.adapters.queue import EXTRACT_DOCUMENT
from core.adapters.state import SqliteState
from core.logs import redact
from core.services import build
from core.settings import load_settings
from functions.auth import startup_check
from infra import local_s3, run_record
from tests.support.corpus import GOOD
from tests.support.servers import ROOT, child_env, free_port, wait_for_log
from tests.support.stack import waiting_tasks

# What a fresh laptop's shell does not have: make run decides these itself (or .env does).
LAPTOP_UNSET = ("S3_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "PDFQ_ENV")
LAPTOP_UNSET += ("LOG_LEVEL", "LOG_FORMAT", "HUEY_REDIS_URL", "S3_BUCKET")


class MakeRun:
    """`make run` as a terminal starts it: in a process group of its own (the terminal's
    foreground group, which Ctrl-C signals whole), with a marker in its environment by which
    every process it started, however deep, is found in /proc."""

    def __init__(self, folder: Path, command: list[str] | None = None, **settings: str):
        self.marker = f"PDFQ_TEST_MAKE_RUN={uuid.uuid4().hex}"
        self.port, self.s3_port = free_port(), free_port()
        self.data = folder / "data"
        self.log = folder / "make-run.log"
        self.env = child_env(
            PORT=str(self.port), LOCAL_S3_PORT=str(self.s3_port), PDFQ_DATA_DIR=str(self.data)
        )
        for name in LAPTOP_UNSET:
            self.env.pop(name, None)
        self.env.update(settings)
        name, value = self.marker.split("=")
        self.env[name] = value
        self.command = command or ["make", "--no-print-directory", "run"]
        self.process: subprocess.Popen | None = None

    def start(self, until: str = "dev: ready on", timeout: float = 240) -> str:
        with self.log.open("w") as out:
            self.process = subprocess.Popen(
                self.command,
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        return wait_for_log(self.log, until, self.process, timeout)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def get(self, path: str) -> dict:
        with urllib.request.urlopen(self.url(path), timeout=10) as answer:  # noqa: S310
            return json.loads(answer.read())

    def signal_group(self, signum: int):
        """What a terminal's Ctrl-C (SIGINT) or an IDE's stop button (SIGKILL) does."""
        os.killpg(self.process.pid, signum)

    def processes(self) -> list[str]:
        """Every live process that carries this run's marker: `pid command`."""
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                environ = (entry / "environ").read_bytes().split(b"\0")
                if self.marker.encode() in environ:
                    command = (entry / "cmdline").read_bytes().replace(b"\0", b" ")
                    found.append(f"{entry.name} {command.decode(errors='replace')[:120]}")
            except OSError:  # gone meanwhile, or a zombie
                continue
        return found

    def wait_until_gone(self, timeout: float) -> list[str]:
        deadline = time.monotonic() + timeout
        while (left := self.processes()) and time.monotonic() < deadline:
            time.sleep(0.2)
        return left

    def stop(self):
        """Cleanup whatever a failing test left running."""
        if self.process and self.process.poll() is None:
            self.signal_group(signal.SIGTERM)
            self.process.wait(timeout=120)
        for line in self.processes():
            os.kill(int(line.split()[0]), signal.SIGKILL)


def free(port: int) -> bool:
    """Nothing listens on `port`: a server can bind it (as servers do, with SO_REUSEADDR,
    past the closed connections' TIME_WAIT)."""
    if listening_addresses(port):
        return False
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


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


def readme_upload_command(port: int) -> list[str]:
    """The README's own first upload (`curl ... -F file=@samples/... localhost:8000/...`)."""
    readme = (ROOT / "README.md").read_text()
    (command,) = re.findall(r"^\$ (curl -s -F file=@\S+ localhost:8000/\S+)$", readme, re.M)
    return shlex.split(command.replace("localhost:8000", f"127.0.0.1:{port}"))


def wait_for_job(run: MakeRun, job_id: str, until, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = run.get(f"/api/v1/pdf/jobs/{job_id}")
        if until(job):
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} is still {job['status']}")


@pytest.mark.e2e
def test_make_run_with_a_copied_env_example_serves_the_readme_upload_and_ctrl_c_stops_in_order(
    tmp_path,
):
    dotenv = tmp_path / ".env"
    shutil.copy(ROOT / ".env.example", dotenv)  # what the README and .env.example advise
    run = MakeRun(
        tmp_path,
        PDFQ_ENV_FILE=str(dotenv),
        # One slow job runs whole (no page-parallel parts) and has time to finish on a busy
        # machine once the worker is told to stop.
        PARALLEL_MIN_PAGES="0",
        HUEY_SHUTDOWN_TIMEOUT="90",
    )
    # What an earlier `make run` left: a task scheduled for tomorrow and some state, both about
    # objects its in-memory S3 no longer has.
    settings = load_settings({"PDFQ_DATA_DIR": str(run.data)})
    earlier = build(settings)
    tasks.register(earlier)
    earlier.queue.put(EXTRACT_DOCUMENT, "sources/public/gone.pdf", delay=86400)
    SqliteState(run.data / "state.sqlite3").set("leftover", "1", ttl=86400)
    try:
        output = run.start()
        assert "dev: ready on http://127.0.0.1:" in output, output[-3000:]
        # "ready" means the web answers: the first request after it succeeds.
        assert run.get("/api/v1/pdf/health/live") == {"status": "alive"}
        assert listening_addresses(run.port) == {"0100007F"}  # 127.0.0.1, nothing else
        assert "provision warning" not in output  # nothing a newcomer cannot act on
        assert '"level": ' not in output  # text lines, not .env.example's JSON
        left = waiting_tasks(settings)
        assert left in ([], ["recover_jobs"]), left  # only the consumer's pass after its start
        assert SqliteState(run.data / "state.sqlite3").get("leftover") is None
        health = urllib.request.Request(
            run.url("/api/v1/pdf/health"), headers={"X-Request-ID": "router-id-0001"}
        )
        with urllib.request.urlopen(health) as answer:  # noqa: S310 - loopback
            assert answer.headers["X-Request-ID"] == "router-id-0001"

        # The README's upload, word for word (its port aside), from the repository.
        upload = subprocess.run(
            readme_upload_command(run.port), cwd=ROOT, capture_output=True, text=True, timeout=60
        )
        job_id = json.loads(upload.stdout)["id"]
        job = wait_for_job(run, job_id, lambda job: job["status"] == "succeeded")
        assert job["pages_done"] == job["pages_total"] == 3
        with urllib.request.urlopen(run.url(f"/api/v1/pdf/jobs/{job_id}/result")) as answer:  # noqa: S310
            assert answer.read().decode() == extract_text(ROOT / "samples" / "report.pdf")

        # `make cli` beside it: make run's local S3 and queue, and the CLI's own exit codes.
        cli = [sys.executable, "-m", "infra.dev", "cli"]
        shell = {k: v for k, v in run.env.items() if k not in ("PARALLEL_MIN_PAGES",)}
        status = subprocess.run(
            [*cli, "status", job_id], cwd=ROOT, env=shell, capture_output=True, text=True
        )
        assert status.returncode == 0, status.stderr
        assert status.stdout.startswith(f"succeeded\t{job_id}\treport.pdf\t3/3")
        assert "{" not in status.stderr  # no JSON log lines in a person's terminal
        unknown = subprocess.run(
            [*cli, "status", "0" * 32], cwd=ROOT, env=shell, capture_output=True, text=True
        )
        assert unknown.returncode == 4, unknown.stderr
        made = subprocess.run(
            ["make", "--no-print-directory", "cli", f"ARGS=status {'0' * 32}"],
            cwd=ROOT,
            env=shell,
            capture_output=True,
            text=True,
        )
        assert made.returncode == 2  # make's own, for any failure
        assert "make cli: exit code 4" in made.stderr, made.stderr

        # `provision --check` from another shell, without make run's CORS_ORIGINS.
        other = {**shell, "S3_ENDPOINT_URL": f"http://127.0.0.1:{run.s3_port}"}
        other.update(local_s3.FAKE_CREDENTIALS)
        check = subprocess.run(
            [sys.executable, "-m", "infra.provision", "--check"],
            cwd=ROOT,
            env=other,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert f"uploads allowed from http://127.0.0.1:{run.port}" in check.stdout, check.stderr
        assert check.returncode == 0, check.stdout + check.stderr

        # A job running when Ctrl-C comes finishes: the worker stops first, while storage
        # still takes its result, and the web still answers for it.
        slow = GOOD / "pdfminer_i1040nr.pdf"  # 50 pages, some seconds
        upload = subprocess.run(
            ["curl", "-s", "-F", f"file=@{slow}", run.url("/api/v1/pdf/documents")],
            capture_output=True,
            text=True,
            timeout=60,
        )
        slow_id = json.loads(upload.stdout)["id"]
        running = wait_for_job(run, slow_id, lambda job: (job["pages_done"] or 0) > 0)
        assert running["status"] == "processing", running
        assert running["pages_done"] < running["pages_total"], running
        run.signal_group(signal.SIGINT)
        # make waits for its recipe, then ends by the same signal (as every make does).
        assert run.process.wait(timeout=180) == -signal.SIGINT
        assert run.log.read_text().rstrip().endswith("dev: stopped")
    finally:
        run.stop()
    output = run.log.read_text()
    assert "Traceback" not in output, output[-3000:]
    stops = [output.index(f"dev: stopping the {name}") for name in ("worker", "web", "storage")]
    assert stops == sorted(stops), output[-3000:]
    # SIGTERM, the worker's graceful signal (Procfile: --graceful-signal TERM): the job ran
    # to its end before the worker exited and before the web and storage were stopped.
    worker = output[stops[0] : stops[1]]
    assert "Shutting down gracefully" in worker, output[-3000:]
    assert f"job {slow_id}: succeeded, 50 pages" in worker, output[-3000:]
    # gunicorn's access line for the health request carries the router's id.
    assert "[req router-id-0001] GET /api/v1/pdf/health 200" in output, output[-3000:]
    assert run.processes() == []
    assert free(run.port) and free(run.s3_port)
    assert not run_record.path(run.data).exists()


@pytest.mark.e2e
def test_make_run_killed_with_sigkill_leaves_no_process_and_make_cli_follows_its_redis(
    tmp_path, redis_url
):
    # The Redis is given to make run's shell only; `make cli` runs in another shell.
    run = MakeRun(tmp_path, PDFQ_ENV_FILE="", HUEY_REDIS_URL=redis_url)
    try:
        output = run.start()
        assert "dev: ready on" in output, output[-3000:]
        shell = {k: v for k, v in run.env.items() if k != "HUEY_REDIS_URL"}
        queue = subprocess.run(
            [sys.executable, "-m", "infra.dev", "cli", "queue"],
            cwd=ROOT,
            env=shell,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert queue.returncode == 0, queue.stderr
        assert "backend\tredis" in queue.stdout, queue.stdout
        assert run_record.path(run.data).stat().st_mode & 0o077 == 0  # credentials inside

        # An IDE's stop button, a harness's timeout, the OOM killer: make and infra.dev die
        # at once and can do nothing; the supervisor sees their pipe close.
        started = len(run.processes())
        assert started >= 6, run.processes()  # moto, gunicorn and its workers, huey and its
        run.signal_group(signal.SIGKILL)
        left = run.wait_until_gone(timeout=120)
        assert left == [], left
    finally:
        run.stop()
    output = run.log.read_text()
    assert "dev: stopping the worker" in output, output[-3000:]
    assert free(run.port) and free(run.s3_port)  # the next make run can start
    assert not run_record.path(run.data).exists()


@pytest.mark.e2e
def test_make_run_stopped_by_sigterm_to_its_group_stops_in_order_without_a_traceback(tmp_path):
    """`kill -TERM -<pgid>` (a harness, a service manager): make forwards SIGTERM to its
    recipe as well, so infra.dev gets it twice; the second changes nothing."""
    run = MakeRun(tmp_path, PDFQ_ENV_FILE="")
    try:
        output = run.start()
        assert "dev: ready on" in output, output[-3000:]
        run.signal_group(signal.SIGTERM)
        run.process.wait(timeout=180)
        left = run.wait_until_gone(timeout=60)
    finally:
        run.stop()
    output = run.log.read_text()
    assert "Traceback" not in output and "KeyboardInterrupt" not in output, output[-3000:]
    stops = [output.index(f"dev: stopping the {name}") for name in ("worker", "web", "storage")]
    assert stops == sorted(stops), output[-3000:]
    assert output.rstrip().endswith("dev: stopped")
    assert left == [], left


@pytest.mark.e2e
def test_make_run_with_a_redis_that_does_not_answer_says_so_in_one_line(tmp_path):
    url = f"redis://127.0.0.1:{free_port()}/0"
    run = MakeRun(tmp_path, [sys.executable, "-m", "infra.dev"], PDFQ_ENV_FILE="")
    run.env["HUEY_REDIS_URL"] = url
    try:
        output = run.start(until="dev: stopped", timeout=120)
        assert run.process.wait(timeout=60) == 1
    finally:
        run.stop()
    assert "Traceback" not in output, output
    (line,) = [line for line in output.splitlines() if "Redis unreachable" in line]
    assert line.startswith(f"dev: Redis unreachable at {url} (ConnectionError)"), line
    assert "Start it (redis-server), or leave HUEY_REDIS_URL and REDIS_URL unset" in line
    assert "dev: ready" not in output
    assert run.processes() == []


@pytest.mark.e2e
def test_make_run_is_ready_only_once_the_web_answers_and_says_why_it_did_not(tmp_path):
    """PDFQ_ENV=production and no tokens: the web refuses to start. make run then says so
    and stops, rather than printing ready; the web's hint reaches the terminal whole."""
    run = MakeRun(tmp_path, [sys.executable, "-m", "infra.dev"], PDFQ_ENV_FILE="")
    run.env["PDFQ_ENV"] = "production"
    try:
        output = run.start(until="dev: stopped", timeout=120)
        assert run.process.wait(timeout=60) == 1
    finally:
        run.stop()
    assert "dev: ready" not in output
    assert "dev: the web exited (code 2) before the web answered" in output, output[-3000:]
    problem, _ = startup_check(load_settings({"PDFQ_ENV": "production"}))
    assert problem in output  # through gunicorn's logger and the redactor, unchanged
    assert run.processes() == []


def test_start_up_hints_survive_the_log_redactor():
    """Every log line goes through core.logs.redact: a hint that looks like a secret
    (`API_TOKENS=<tenant>:<token>`) would reach the terminal as `API_TOKENS=***`."""
    problem, _ = startup_check(load_settings({"PDFQ_ENV": "production"}))
    _, warning = startup_check(load_settings({"PDFQ_ENV": "development"}))
    for hint in (problem, warning):
        assert redact(hint) == hint
    assert "flask --app functions pdf token new <tenant>" in problem


def test_a_copied_env_example_leaves_make_run_its_development_defaults(monkeypatch, tmp_path):
    from infra.dev import local_environment

    dotenv = tmp_path / ".env"
    shutil.copy(ROOT / ".env.example", dotenv)
    monkeypatch.setenv("PDFQ_ENV_FILE", str(dotenv))
    for name in LAPTOP_UNSET:
        monkeypatch.delenv(name, raising=False)
    env = local_environment(load_settings())
    assert env["PDFQ_ENV"] == "development"
    assert env["LOG_FORMAT"] == "text"
    assert load_settings(env, dotenv=False).environment == "development"
