"""Extraction in a child process with a wall-clock timeout and a memory cap.

A decompression bomb or a page that takes minutes to lay out then costs one child process,
never the worker: the worker kills the child, fails the job with `timeout` or
`memory_limit`, and goes on to the next job. Children come from a forkserver that has
pdfminer imported already, so starting one costs milliseconds, and forking from it is safe
for thread workers too (the worker's own threads are never forked).
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import multiprocessing
import os
import resource
import signal
import time
from collections.abc import Callable
from pathlib import Path

from consumer import engines
from consumer.extract import Extraction, Page
from consumer.joboptions import extract_arguments
from core.errors import EngineCrashed, ExtractionTimeout, MemoryLimit, PdfqError

_context = multiprocessing.get_context("forkserver")
_context.set_forkserver_preload(["consumer.sandbox_preload"])
_PR_SET_PDEATHSIG = 1
POLL_SECONDS = 0.5
MEMORY_EXIT = 86  # the child's exit status when it ran out of memory

_ERRORS: dict[str, type[PdfqError]] = {}


def _error_class(code: str) -> type[PdfqError]:
    """The PdfqError subclass for a code sent back by a child."""
    if not _ERRORS:
        stack = [PdfqError]
        while stack:
            cls = stack.pop()
            _ERRORS.setdefault(cls.code, cls)
            stack.extend(cls.__subclasses__())
    return _ERRORS.get(code, EngineCrashed)


def _die_with_parent():
    # Our parent is the forkserver, which exits when the worker does: take us along.
    with contextlib.suppress(OSError):  # not Linux: the kill on timeout still applies
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def _child(conn, path: str, pages_path: str, password: str, memory_bytes: int, options: dict):
    """Runs in the child: extract, write pages to a file, report through `conn`."""
    # Stop signals are for the worker, which decides the child's fate (it kills it).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    _die_with_parent()
    if memory_bytes:
        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    try:
        conn.send(_extract_to_file(conn, path, pages_path, password, **options))
    except PdfqError as error:
        conn.send(("error", error.code, error.message))
    except MemoryError:
        # No reporting from here: the traceback still holds the memory that ran out.
        os._exit(MEMORY_EXIT)
    finally:
        conn.close()


def _extract_to_file(
    conn,
    path: str,
    pages_path: str,
    password: str,
    engine: str = engines.DEFAULT,
    pages=None,
    options: dict | None = None,
) -> tuple:
    result = engines.extract(
        engine,
        path,
        password=password,
        pages=pages,
        on_page=lambda done, total: conn.send(("progress", done, total)),
        **extract_arguments(options),  # job options (issue 5)
    )
    with open(pages_path, "w", encoding="utf-8") as fp:
        for page in result.pages:
            fp.write(json.dumps({"page": page.number, "text": page.text}) + "\n")
    summary = {
        "metadata": result.metadata,
        "encrypted": result.encrypted,
        "seconds": result.seconds,
        "warnings": result.warnings,
    }
    return ("ok", summary)


def run(
    path: Path,
    *,
    timeout: float,
    memory_mb: int,
    password: str = "",
    options: dict | None = None,
    engine: str = engines.DEFAULT,
    pages: tuple[int, int] | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    on_tick: Callable[[], None] | None = None,
) -> Extraction:
    """Extract `path` in a child process; raise the child's error, or timeout/memory_limit.

    `on_tick` is called about every POLL_SECONDS while the child works (lease heartbeats);
    an exception it raises stops the child and propagates. `engine` names the engine
    (consumer/engines.py); `pages` (first, last) limits extraction to a page range.
    """
    pages_path = path.with_suffix(".pages.jsonl")
    receiver, sender = _context.Pipe(duplex=False)
    _allow_children()
    child = _context.Process(
        target=_child,
        args=(
            sender,
            str(path),
            str(pages_path),
            password,
            memory_mb * 2**20,
            {"engine": engine, "pages": pages, "options": options},
        ),
        name="pdfq-extract",
    )
    started = time.monotonic()
    child.start()
    sender.close()
    try:
        outcome = _wait(
            child, receiver, started + timeout, timeout, memory_mb, on_progress, on_tick
        )
    finally:
        if child.is_alive():
            child.kill()
        child.join()
        receiver.close()
    pages = []
    with open(pages_path, encoding="utf-8") as fp:
        for line in fp:
            item = json.loads(line)
            pages.append(Page(item["page"], item["text"]))
    pages_path.unlink()
    return Extraction(
        pages=pages,
        metadata=outcome["metadata"],
        encrypted=outcome["encrypted"],
        seconds=outcome["seconds"],
        warnings=outcome["warnings"],
    )


def _wait(child, receiver, deadline, timeout, memory_mb, on_progress, on_tick) -> dict:
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise ExtractionTimeout(f"Extraction took longer than the {timeout:g} s limit.")
        if on_tick:
            on_tick()
        if not receiver.poll(min(remaining, POLL_SECONDS)):
            continue
        try:
            message = receiver.recv()
        except EOFError:
            break  # the child is gone without a word
        if message[0] == "progress" and on_progress:
            on_progress(message[1], message[2])
        elif message[0] == "ok":
            return message[1]
        elif message[0] == "error":
            raise _error_class(message[1])(message[2])
    child.join(5)
    if child.exitcode == MEMORY_EXIT:
        raise MemoryLimit(f"Extraction needed more than the {memory_mb} MB memory limit.")
    if child.exitcode == -signal.SIGKILL:
        # The kernel's OOM killer, or an allocation the memory cap refused inside C code.
        raise MemoryLimit(f"The extraction process was killed (memory limit {memory_mb} MB).")
    raise EngineCrashed(f"The extraction process died (exit code {child.exitcode}).")


def _allow_children():
    # Huey's process workers are daemonic, and multiprocessing refuses children of daemons
    # so that none outlive them. Ours cannot: they are killed in run() and die with the
    # forkserver, which exits with the worker.
    current = multiprocessing.current_process()
    if current.daemon:
        current._config["daemon"] = False
