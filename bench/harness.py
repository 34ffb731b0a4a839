"""What every benchmark shares: the corpus, the real stack, timing and the result rows."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import os
import shutil
import tempfile
import time
import uuid
from pathlib import Path

from bench.latency import DEFAULT_DELAY, LatencyProxy
from infra import local_s3
from tests.support.corpus import GOOD, manifest
from tests.support.servers import RedisServer, free_port
from tests.support.stack import Stack

QUICK_MAX_PAGES = 60  # quick mode leaves out the two long books (285 and 352 pages)
LARGE = "pdfjs_freeculture.pdf"


@dataclasses.dataclass
class Row:
    name: str
    figure: str  # what was measured, with its unit
    baseline: str  # what it is compared with, measured in the same run
    ratio: float
    target: str
    met: bool | None  # None: a figure reported beside others, with no target of its own
    note: str = ""

    def line(self) -> str:
        verdict = {True: "met", False: "NOT met", None: "-"}[self.met]
        return (
            f"| {self.name} | {self.figure} | {self.baseline} | {self.ratio:.2f} | "
            f"{self.target} | {verdict} |"
        )


HEADER = "| row | measured | baseline (same run) | ratio | target | |\n|---|---|---|---|---|---|"


def corpus(full: bool) -> list[tuple[Path, int]]:
    """(path, pages) of the good corpus; quick mode keeps documents of 60 pages or fewer."""
    rows = [(GOOD / r["file"], int(r["pages"])) for r in manifest(GOOD)]
    return [(p, n) for p, n in rows if full or n <= QUICK_MAX_PAGES]


def salted(path: Path, folder: Path) -> Path:
    """A copy of `path` with a unique comment after %%EOF: the same text, other bytes, so the
    dedup index never answers for a benchmark that must extract."""
    copy = folder / path.name
    shutil.copyfile(path, copy)
    with open(copy, "ab") as fp:
        fp.write(f"\n% pdfq bench {uuid.uuid4().hex}\n".encode())
    return copy


def parse_time(value: str) -> float:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


# The pinned mode's split of a 2-core machine: the storage server, Redis, the web and the
# benchmark itself on one core, the workers (and the raw baselines they are compared with) on
# the other, so a ratio measures pdfq's workers, not the CPU moto takes from them.
SERVICE_CPUS = {0}
WORKER_CPUS = {1}


def can_pin() -> bool:
    return (os.cpu_count() or 1) >= 2 and hasattr(os, "sched_setaffinity")


def pin(pid: int, cpus: set[int]):
    """Every thread of process `pid` onto `cpus` (their children inherit it)."""
    try:
        threads = [int(t) for t in os.listdir(f"/proc/{pid}/task")]
    except OSError:
        return
    for thread in threads:
        with contextlib.suppress(OSError):  # a thread that ended meanwhile
            os.sched_setaffinity(thread, cpus)


def session(sid: int) -> list[int]:
    """The processes of session `sid` (a stack's process and every child it started)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat[stat.rindex(")") + 2 :].split()[3]) == sid:
                found.append(int(entry))
    return found


def pin_session(sid: int, cpus: set[int]):
    for pid in session(sid):
        pin(pid, cpus)


class Servers:
    """A private redis-server and moto's S3 server, shared by the stacks of one run, and the
    latency proxy in front of that S3 server. `pinned`: they, and this process, keep to
    SERVICE_CPUS, and each stack's workers to WORKER_CPUS."""

    def __init__(self, latency: float = DEFAULT_DELAY, pinned: bool = False):
        self.pinned = pinned and can_pin()
        self.folder = Path(tempfile.mkdtemp(prefix="pdfq-bench-"))
        self.redis = RedisServer(self.folder)
        port = free_port()
        self._s3 = local_s3.start(port)
        self.s3_url = f"http://127.0.0.1:{port}"
        local_s3.wait_until_up(self.s3_url)
        self.proxy = LatencyProxy(port, latency)
        if self.pinned:
            for pid in (os.getpid(), self.redis.process.pid):
                pin(pid, SERVICE_CPUS)
            pin_session(self.s3_sid, SERVICE_CPUS)

    @property
    def s3_sid(self) -> int:
        """The storage server's session (it runs in its own)."""
        return os.getsid(self._s3.pid)

    @property
    def mode(self) -> str:
        return "pinned" if self.pinned else "shared cores"

    def stack(self, slow: bool = False, **settings: str):
        """A stack on the local S3 server, or (`slow`) on it through the latency proxy, with
        OPTIONS_SECRET set as a deployment sets it (presigned uploads then carry their jobs)."""
        self.redis.client.flushall()
        s3_url = self.proxy.url if slow else self.s3_url
        settings = {"OPTIONS_SECRET": "the-bench-options-secret", **settings}
        stack = Stack(self.redis.url, s3_url, self.folder / uuid.uuid4().hex[:8], **settings)
        stack.where = f"{self.proxy.delay * 1000:.0f} ms storage" if slow else "local"
        if self.pinned:
            pin_session(os.getsid(stack.procs["web"].pid), SERVICE_CPUS)
            pin_session(os.getsid(stack.procs["worker"].pid), WORKER_CPUS)
            stack.where += ", pinned"
        return stack

    def stop(self):
        self.proxy.stop()
        self.redis.stop()
        self._s3.terminate()
        self._s3.wait(timeout=10)
        shutil.rmtree(self.folder, ignore_errors=True)
        if self.pinned:
            pin(os.getpid(), set(range(os.cpu_count() or 1)))


def wait_terminal(stack, job_ids: list[str], timeout: float, poll: float = 0.05) -> dict:
    """Like Stack.wait, polling faster, so the client's view of `succeeded` is not late."""
    deadline, done = time.monotonic() + timeout, {}
    while len(done) < len(job_ids):
        for job_id in job_ids:
            if job_id not in done:
                job = stack.job(job_id)
                if job["status"] in ("succeeded", "failed", "canceled"):
                    done[job_id] = job
        if time.monotonic() > deadline:
            raise RuntimeError(f"jobs not finished after {timeout}s\n{stack.logs()}")
        time.sleep(poll)
    return done


def terminal_count(stack) -> int:
    """Jobs of the stack that ended (one cheap request: counters in Redis)."""
    status, body, _ = stack.request("GET", "/api/v1/pdf/queue/status")
    assert status == 200, body
    return sum(body["jobs"][name] for name in ("succeeded", "failed", "canceled"))


def wait_many(stack, job_ids: list[str], before: int, timeout: float) -> dict:
    """Wait for many jobs with one status request per half second (polling each job would
    cost the web and S3 more CPU than the workers have to spare), then read each once."""
    deadline = time.monotonic() + timeout
    while terminal_count(stack) < before + len(job_ids):
        if time.monotonic() > deadline:
            raise RuntimeError(f"jobs not finished after {timeout}s\n{stack.logs()}")
        time.sleep(0.5)
    return {job_id: stack.job(job_id) for job_id in job_ids}
