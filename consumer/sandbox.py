"""Every engine call in a child process with a wall-clock timeout and a memory cap.

A decompression bomb or a page that takes minutes to lay out then costs one child process,
never the worker: the worker kills the child, fails the job with `timeout` or
`memory_limit`, and goes on to the next job. What the child hands back is capped in the
child (Caps): metadata values are cut, a text over its limit fails `too_large`, and the
pages go through a file the worker reads one page at a time, so no PDF can make the
worker itself large. Children come from a forkserver that has
pdfminer imported already, so starting one costs milliseconds, and forking from it is safe
for thread workers too (the worker's own threads are never forked). The forkserver is set
up by the first sandboxed call, in the process that makes it.

OCR has caps of its own: before the child OCRs N pages it says so, the worker extends the
deadline by N times OCR_PAGE_SECONDS, and the child raises its memory cap to OCR_MEMORY_MB
(its hard limit, set at start, is the larger of the two caps).
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import multiprocessing
import os
import resource
import signal
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from core import engine_registry
from core.errors import (
    EngineCrashed,
    ExtractionTimeout,
    MemoryLimit,
    PdfqError,
    TooLarge,
    error_for_code,
)
from engines.base import Extraction, PageFile, write_pages

_PR_SET_PDEATHSIG = 1
POLL_SECONDS = 0.5
MEMORY_EXIT = 86  # the child's exit status when it ran out of memory


@dataclass(frozen=True)
class Caps:
    """What one extraction may hand back: each metadata value and all of them together in
    characters (cut, with a warning), the text in UTF-8 bytes (more is `too_large`)."""

    metadata_value_chars: int = 2000
    metadata_chars: int = 8000
    text_bytes: int = 64 * 2**20

    @classmethod
    def of(cls, settings) -> Caps:
        return cls(
            settings.max_metadata_value_chars,
            settings.max_metadata_chars,
            settings.max_text_bytes,
        )


class Counted(Exception):
    """`on_count` declined to extract the document in one piece: it has `pages` pages."""

    def __init__(self, pages: int):
        super().__init__(f"{pages} pages")
        self.pages = pages


@functools.cache
def _context():
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["consumer.sandbox_preload"])
    return context


def extract(
    path: Path,
    *,
    engine: str,
    timeout: float,
    memory_mb: int,
    password: str = "",
    options: dict | None = None,
    pages: tuple[int, int] | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    on_tick: Callable[[], None] | None = None,
    on_count: Callable[[int], bool] | None = None,
    caps: Caps = Caps(),
    ocr_page_seconds: float = 0.0,
    ocr_memory_mb: int | None = None,
) -> Extraction:
    """Extract `path` (the range `pages`, or all) with `engine` in a child; raise the child's
    error, or timeout / memory_limit.

    `on_tick` is called about every POLL_SECONDS while the child works (lease heartbeats);
    an exception it raises stops the child and propagates. With `on_count`, the child counts
    the pages first and goes on only if on_count(pages) is true; otherwise it is stopped and
    Counted raised: one child both sizes a document and, most often, extracts it.
    The pages come back as a PageFile beside `path`, read from disk as they are used.
    """
    pages_path = path.with_suffix(".pages.jsonl")
    request = {
        "path": str(path),
        "engine": engine,
        "password": password,
        "pages_path": str(pages_path),
        "pages": pages,
        "options": options,
        "count_first": on_count is not None,
        "caps": asdict(caps),
        "ocr_memory_bytes": None if ocr_memory_mb is None else ocr_memory_mb * 2**20,
    }
    receiver, sender = _context().Pipe(duplex=False)
    _allow_children()
    child = _context().Process(
        target=_child, args=(sender, request, memory_mb * 2**20), name="pdfq-extract"
    )
    child.start()
    sender.close()
    try:
        deadline = time.monotonic() + timeout
        limits = _Limits(deadline, timeout, memory_mb, ocr_page_seconds, ocr_memory_mb)
        outcome = _wait(child, receiver, limits, on_progress, on_tick, on_count)
    finally:
        if child.is_alive():
            child.kill()
        child.join()
        receiver.close()
    return Extraction(pages=PageFile(pages_path, outcome.pop("page_count")), **outcome)


# --- in the worker: start the child, watch it, kill it ---


class _Limits:
    """The child's deadline and memory cap, as OCR extends them."""

    def __init__(self, deadline, timeout, memory_mb, ocr_page_seconds, ocr_memory_mb):
        self.deadline, self.timeout, self.memory_mb = deadline, timeout, memory_mb
        self.ocr_page_seconds, self.ocr_memory_mb = ocr_page_seconds, ocr_memory_mb or 0
        self.ocr_pages = 0

    def ocr(self, pages: int):
        self.ocr_pages += pages
        self.deadline += pages * self.ocr_page_seconds

    def timed_out(self) -> ExtractionTimeout:
        extra = (
            f" plus {self.ocr_page_seconds:g} s for each of {self.ocr_pages} OCR pages"
            if self.ocr_pages
            else ""
        )
        limit = f"the {self.timeout:g} s limit{extra}"
        return ExtractionTimeout(f"Extraction took longer than {limit}.")

    def memory(self) -> int:
        return max(self.memory_mb, self.ocr_memory_mb) if self.ocr_pages else self.memory_mb


def _wait(child, receiver, limits: _Limits, on_progress, on_tick, on_count) -> dict:
    while True:
        remaining = limits.deadline - time.monotonic()
        if remaining <= 0:
            raise limits.timed_out()
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
        elif message[0] == "count" and not on_count(message[1]):
            raise Counted(message[1])
        elif message[0] == "ocr":
            limits.ocr(message[1])
        elif message[0] == "ok":
            return message[1]
        elif message[0] == "error":
            raise error_for_code(message[1])(message[2])
    child.join(5)
    memory_mb = limits.memory()
    if child.exitcode == MEMORY_EXIT:
        raise MemoryLimit(f"Extraction needed more than the {memory_mb} MB memory limit.")
    if child.exitcode == -signal.SIGKILL:
        # The kernel's OOM killer, or an allocation the memory cap refused inside C code.
        raise MemoryLimit(f"The extraction process was killed (memory limit {memory_mb} MB).")
    if child.exitcode == -signal.SIGABRT and limits.ocr_pages:
        # Tesseract (C++) aborts on an allocation the memory cap refused (std::bad_alloc).
        raise MemoryLimit(f"OCR needed more than the {memory_mb} MB memory limit.")
    raise EngineCrashed(f"The extraction process died (exit code {child.exitcode}).")


def _allow_children():
    # Huey's process workers are daemonic, and multiprocessing refuses children of daemons
    # so that none outlive them. Ours cannot: they are killed in _run() and die with the
    # forkserver, which exits with the worker.
    current = multiprocessing.current_process()
    if current.daemon:
        current._config["daemon"] = False


# --- in the child ---


def _child(conn, request: dict, memory_bytes: int):
    """Runs in the child: do the request, report through `conn`."""
    # Stop signals are for the worker, which decides the child's fate (it kills it).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    _die_with_parent()
    ocr_bytes = request.pop("ocr_memory_bytes", None)
    if memory_bytes:
        if ocr_bytes is None:
            hard = memory_bytes
        else:  # OCR's cap, 0 for none, is the hard limit the child lifts its cap to
            hard = max(memory_bytes, ocr_bytes) if ocr_bytes else resource.RLIM_INFINITY
        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, hard))
    try:
        conn.send(("ok", _serve(conn, **request)))
    except PdfqError as error:
        conn.send(("error", error.code, error.message))
    except MemoryError:
        # No reporting from here: the traceback still holds the memory that ran out.
        os._exit(MEMORY_EXIT)
    finally:
        conn.close()


def _serve(conn, path, engine, password, pages_path, pages, options, count_first, caps) -> dict:
    module = engine_registry.load(engine)
    if count_first:  # the worker may stop us here, to extract in parts instead
        conn.send(("count", module.page_count(path, password)))
    on_page = lambda done, total: conn.send(("progress", done, total))  # noqa: E731
    mode = (options or {}).get("ocr", "off")
    run = {"password": password, "pages": pages, "on_page": on_page, "options": options}
    if mode == "all":  # the ocr engine
        run["on_ocr"] = _ocr(conn)
    result = module.extract(path, **run)
    if mode == "auto":
        ocr = engine_registry.load("ocr")
        result = ocr.fill_blank_pages(
            path, result, password=password, pages=pages, options=options, on_ocr=_ocr(conn)
        )
    count, size = write_pages(result.pages, Path(pages_path))
    if size > caps["text_bytes"]:
        raise TooLarge(
            f"The extracted text is {size} bytes, over the {caps['text_bytes']} byte limit "
            "(MAX_TEXT_BYTES); extract a piece with the pages or max_pages option."
        )
    metadata, cut = cap_metadata(result.metadata, caps)
    outline, cut_outline = cap_outline(result.outline, caps)
    return {
        "page_count": count,
        "metadata": metadata,
        "encrypted": result.encrypted,
        "seconds": result.seconds,
        "warnings": result.warnings + (["metadata_truncated"] if cut or cut_outline else []),
        "outline": outline,
    }


def cap_metadata(metadata: dict[str, str], caps: dict) -> tuple[dict[str, str], bool]:
    """(metadata within the caps, whether anything was cut): each value cut to its limit, and
    fields left out once all of them together would pass theirs."""
    kept: dict[str, str] = {}
    room, cut = caps["metadata_chars"], False
    for name, value in metadata.items():
        if len(value) > caps["metadata_value_chars"]:
            value, cut = value[: caps["metadata_value_chars"]], True
        if len(value) > room:
            cut = True
            continue
        kept[name] = value
        room -= len(value)
    return kept, cut


def cap_outline(outline: list[dict], caps: dict) -> tuple[list[dict], bool]:
    """(the outline within the caps, whether anything was cut): each title cut like a
    metadata value. The number of entries is bounded where the outline is read."""
    limit, cut = caps["metadata_value_chars"], False
    kept = []
    for entry in outline:
        if len(entry["title"]) > limit:
            entry, cut = {**entry, "title": entry["title"][:limit]}, True
        kept.append(entry)
    return kept, cut


def _ocr(conn) -> Callable[[int], None]:
    """What the child does before it OCRs `pages` pages: the worker extends its deadline, and
    the child lifts its memory cap to OCR's (the hard limit set at start)."""

    def starting(pages: int):
        conn.send(("ocr", pages))
        _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        resource.setrlimit(resource.RLIMIT_AS, (hard, hard))

    return starting


def _die_with_parent():
    # Our parent is the forkserver, which exits when the worker does: take us along.
    with contextlib.suppress(OSError):  # not Linux: the kill on timeout still applies
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
