"""Real servers and processes for integration and end-to-end tests, each on a free port."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import redis

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RedisServer:
    """A private redis-server in a temp folder, so a developer's own Redis is never touched."""

    def __init__(self, folder: Path, tls: bool = False, extra_args: tuple[str, ...] = ()):
        exe = shutil.which("redis-server")
        if exe is None:
            raise RuntimeError("redis-server not found: `apt-get install redis-server`")
        self.port = free_port()
        log = str(folder / "redis.log")
        args = [exe, "--bind", "127.0.0.1", "--dir", str(folder), "--save", ""]
        args += ["--appendonly", "no", "--logfile", log, *extra_args]
        if tls:
            # A self-signed certificate, as Heroku Redis presents.
            key, cert = str(folder / "key.pem"), str(folder / "cert.pem")
            subprocess.run(
                [
                    "openssl",
                    "req",
                    "-x509",
                    "-newkey",
                    "rsa:2048",
                    "-nodes",
                    "-days",
                    "1",
                    "-subj",
                    "/CN=localhost",
                    "-keyout",
                    key,
                    "-out",
                    cert,
                ],
                check=True,
                capture_output=True,
            )
            args += ["--port", "0", "--tls-port", str(self.port), "--tls-cert-file", cert]
            args += ["--tls-key-file", key, "--tls-auth-clients", "no"]
            self.url = f"rediss://127.0.0.1:{self.port}/0"
            self.client = redis.Redis.from_url(self.url, ssl_cert_reqs=None)
        else:
            args += ["--port", str(self.port)]
            self.url = f"redis://127.0.0.1:{self.port}/0"
            self.client = redis.Redis.from_url(self.url)
        self._args, self._folder = args, folder
        self._launch()

    def _launch(self):
        self.process = subprocess.Popen(self._args, stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while True:
            try:
                self.client.ping()
                break
            except redis.ConnectionError as exc:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    log = self._folder / "redis.log"
                    raise RuntimeError(f"redis-server did not start; see {log}") from exc
                time.sleep(0.05)

    def crash(self):
        """Killed (SIGKILL) and started again on the same port, empty: a crash of a Redis that
        keeps nothing on disk."""
        self.process.kill()
        self.process.wait(timeout=10)
        self._launch()

    def stop(self):
        self.client.close()
        self.process.terminate()
        self.process.wait(timeout=10)


class Proc:
    """A child process whose output goes to a log file that failing tests can show."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], log_dir: Path):
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            args,
            env=env,
            cwd=ROOT,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self, sig: int = signal.SIGINT, timeout: float = 20):
        if self.alive():
            os.killpg(self.process.pid, sig)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self._log.close()


def wait_for_log(path: Path, text: str, process: subprocess.Popen, timeout: float) -> str:
    """The log at `path` once it holds `text`, the process exited, or `timeout` passed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        output = path.read_text()
        if text in output or process.poll() is not None:
            return output
        time.sleep(0.2)
    return path.read_text()


def child_env(**values: str) -> dict[str, str]:
    """The test process's environment plus `values`, with the venv's tools first on PATH."""
    env = {k: v for k, v in os.environ.items() if k not in ("HUEY_IMMEDIATE", "REDIS_URL")}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env.update(values)
    return env


# s3rver, from npm: installed by .ci/run (or on first use) outside the repository.
S3RVER_VERSION = "3.7.1"
S3RVER_HOME = Path(
    os.environ.get("PDFQ_S3RVER_HOME")
    or Path.home() / ".cache" / "pdfq" / f"s3rver-{S3RVER_VERSION}"
)


# s3rver knows one key pair; it checks the key id, and (with --allow-mismatched-signatures)
# accepts any well-formed signature.
S3RVER_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "S3RVER", "AWS_SECRET_ACCESS_KEY": "S3RVER"}


def s3rver_script() -> Path:
    """The s3rver command, installed with npm into S3RVER_HOME when it is not there yet."""
    script = S3RVER_HOME / "node_modules" / "s3rver" / "bin" / "s3rver.js"
    if not script.exists():
        npm = shutil.which("npm")
        if npm is None:
            raise RuntimeError("npm not found: s3rver needs node and npm (`apt-get install npm`)")
        S3RVER_HOME.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                npm,
                "install",
                "--prefix",
                str(S3RVER_HOME),
                "--no-audit",
                "--no-fund",
                "--silent",
                f"s3rver@{S3RVER_VERSION}",
            ],
            check=True,
            capture_output=True,
        )
    return script


def legacy_ciphers(node: str) -> list[str]:
    """s3rver makes its continuation tokens with DES, which OpenSSL 3 (Node 17 and later)
    offers only through its legacy provider: without it every truncated ListObjectsV2 is a
    500."""
    version = subprocess.run([node, "--version"], capture_output=True, text=True).stdout
    major = version.strip().lstrip("v").split(".")[0]
    return ["--openssl-legacy-provider"] if major.isdigit() and int(major) >= 17 else []


class S3rverServer:
    """s3rver, a second S3 implementation (no conditional writes, no lifecycle rules, no
    notifications), keeping its objects on disk in `folder`: stop() and start() again
    mid-test, on the same port, and every object is still there."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.data = folder / "data"
        self.data.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None
        self.start()

    def start(self):
        node = shutil.which("node")
        if node is None:
            raise RuntimeError("node not found: s3rver needs node (`apt-get install nodejs`)")
        args = [node, *legacy_ciphers(node), str(s3rver_script())]
        args += ["-d", str(self.data), "-a", "127.0.0.1"]
        args += ["-p", str(self.port), "--silent", "--allow-mismatched-signatures"]
        log = open(self.folder / "s3rver.log", "ab")  # noqa: SIM115 - the child holds it
        self.process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError as exc:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise RuntimeError(f"s3rver did not start; see {self.folder}") from exc
                time.sleep(0.1)

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        self.process = None
