"""Warm sandbox children: started once with the engines imported, each serves extraction
requests one after another, and is replaced when it may no longer be trusted to.

A child is a fresh Python (`python -c`, consumer/sandbox_child.py), not a fork of the
worker: it never runs the worker's main module nor holds the worker's threads, locks,
connections or credentials (its environment is cut down to CHILD_ENVIRONMENT), and it
imports the engines once, not once per job. The worker is its parent,
so it kills it and reads its exit status directly. Children are started by one thread of
the worker process that lives as long as the process, because the kernel's parent-death
signal (PR_SET_PDEATHSIG, which the child asks for) follows the thread that started it.

A child goes back to the pool only after a request that ended with its answer, and is
replaced instead after a timeout, a memory-limit exit, a crash, SANDBOX_MAX_REQUESTS
requests, or when its resident memory passed SANDBOX_MAX_RSS_MB or its address space
three quarters of its memory cap (the cap is on address space: a child that kept what a
large document made it allocate has less left for the next one). Children are keyed by
their memory limits (the hard limit is set once, at start). Thread workers share them
through the extraction slots (consumer/slots.py), so a process has at most one child per
slot; a process worker has one.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import queue
import socket
import subprocess
import sys
import threading
from dataclasses import dataclass

from consumer.sandbox_wire import Channel

# What a child may see of the worker's environment: enough to run Python and Tesseract,
# none of the worker's credentials (storage keys, Redis URL, tokens, secrets).
CHILD_ENVIRONMENT = ("PATH", "HOME", "LANG", "LANGUAGE", "TZ", "TMPDIR", "OMP_THREAD_LIMIT")
CHILD_ENVIRONMENT_PREFIXES = ("LC_", "PYTHON")
_BOOT = (
    "import sys, json; sys.path[:] = json.loads(sys.argv[1]); "
    "from consumer.sandbox_child import main; main(sys.argv[2:])"
)
KILL_WAIT_SECONDS = 5


@dataclass(frozen=True)
class Recycle:
    """When a child is replaced rather than reused."""

    max_requests: int = 200
    max_rss_mb: int = 256
    idle: int = 0  # children kept idle at most; 0: one per core


@dataclass(frozen=True)
class Memory:
    """A child's address-space limits in bytes: `soft` while it extracts, `hard` what OCR
    may raise it to (0: no limit)."""

    soft: int
    hard: int


class Child:
    """One warm child and the socket to it."""

    def __init__(self, process: subprocess.Popen, channel: Channel, memory: Memory):
        self.process, self.channel, self.memory = process, channel, memory
        self.requests = 0
        self.document: str | None = None  # the key of the document it keeps open, if any

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self):
        with contextlib.suppress(ProcessLookupError):
            self.process.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(KILL_WAIT_SECONDS)
        self.channel.close()

    def exit_code(self, wait: float) -> int | None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            return self.process.wait(wait)
        return None

    def memory_kb(self) -> dict[str, int]:
        """VmRSS and VmSize from /proc (empty where there is no /proc)."""
        found = {}
        with contextlib.suppress(OSError), open(f"/proc/{self.pid}/status") as fp:
            for line in fp:
                name, _, value = line.partition(":")
                if name in ("VmRSS", "VmSize"):
                    found[name] = int(value.split()[0])
        return found

    def reusable(self, recycle: Recycle) -> bool:
        if not self.alive() or self.requests >= recycle.max_requests:
            return False
        found = self.memory_kb()
        if found.get("VmRSS", 0) > recycle.max_rss_mb * 1024:
            return False
        return not (self.memory.soft and found.get("VmSize", 0) * 1024 > self.memory.soft * 3 / 4)


class _Pool:
    def __init__(self):
        self.lock = threading.Lock()
        self.idle: list[Child] = []
        self.starter: _Starter | None = None

    def take(self, memory: Memory, document: str | None) -> Child:
        """An idle child with these limits (one that keeps `document` open first), or a new one."""
        with self.lock:
            self.idle = [child for child in self.idle if child.alive() or _discard(child)]
            fitting = [child for child in self.idle if child.memory == memory]
            chosen = next((c for c in fitting if document and c.document == document), None)
            chosen = chosen or (fitting[-1] if fitting else None)
            if chosen is not None:
                self.idle.remove(chosen)
                return chosen
            if self.starter is None:
                self.starter = _Starter()
            starter = self.starter
        return starter.start(memory)

    def give_back(self, child: Child, recycle: Recycle):
        if not child.reusable(recycle):
            child.kill()
            return
        keep = recycle.idle or os.cpu_count() or 1
        with self.lock:
            self.idle.append(child)
            extra, self.idle = self.idle[:-keep], self.idle[-keep:]
        for old in extra:
            old.kill()

    def pids(self) -> list[int]:
        with self.lock:
            return [child.pid for child in self.idle]

    def close(self):
        with self.lock:
            idle, self.idle = self.idle, []
        for child in idle:
            child.kill()

    def forget(self):
        """In a forked copy of the process: the children are the parent's, not ours."""
        for child in self.idle:
            with contextlib.suppress(OSError):
                child.channel.close()
            child.process.returncode = 0  # never waited for here: not our child
        self.lock = threading.Lock()
        self.idle = []
        self.starter = None


def _discard(child: Child) -> bool:
    child.kill()
    return False


class _Starter:
    """The one thread that starts children, so their parent-death signal follows the
    process, not whichever worker thread needed a child first."""

    def __init__(self):
        self.requests: queue.SimpleQueue = queue.SimpleQueue()
        threading.Thread(target=self._run, name="pdfq-sandbox-starter", daemon=True).start()

    def start(self, memory: Memory) -> Child:
        answer: queue.SimpleQueue = queue.SimpleQueue()
        self.requests.put((memory, answer))
        found = answer.get()
        if isinstance(found, BaseException):
            raise found
        return found

    def _run(self):
        while True:
            memory, answer = self.requests.get()
            try:
                answer.put(_spawn(memory))
            except BaseException as exc:  # handed to the thread that asked
                answer.put(exc)


def _spawn(memory: Memory) -> Child:
    ours, theirs = socket.socketpair()
    try:
        process = subprocess.Popen(
            [
                sys.executable,
                "-c",
                _BOOT,
                json.dumps(sys.path),
                str(theirs.fileno()),
                str(os.getpid()),
                str(memory.soft),
                str(memory.hard),
            ],
            pass_fds=(theirs.fileno(),),
            stdin=subprocess.DEVNULL,
            env=_environment(),
        )
    except BaseException:
        ours.close()
        raise
    finally:
        theirs.close()
    return Child(process, Channel(ours), memory)


def _environment() -> dict[str, str]:
    return {
        name: value
        for name, value in os.environ.items()
        if name in CHILD_ENVIRONMENT or name.startswith(CHILD_ENVIRONMENT_PREFIXES)
    }


_pool = _Pool()
take = _pool.take
give_back = _pool.give_back
idle_pids = _pool.pids
close = _pool.close
atexit.register(close)
os.register_at_fork(after_in_child=_pool.forget)
