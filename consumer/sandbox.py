"""Every engine call in a sandbox child with a time limit and a memory cap.

A decompression bomb or a page that takes minutes to lay out then costs one child process,
never the worker: the worker kills the child, fails the job with `timeout` or
`memory_limit`, and goes on to the next job. What the child hands back is capped in the
child (Caps), and the pages come back through a file the worker reads one page at a time,
so no PDF can make the worker itself large.

Children are warm (consumer/sandbox_pool.py): started once with the engines imported, each
serves requests one after another, and is replaced after a timeout, a memory-limit exit, a
crash, a number of requests, or when its memory grew. Between requests a child keeps
nothing of a job unless the next request is a range of the same document (`document`: a
name for the file's bytes, the job's source, see consumer/parts.py), so ranges of one long
document share one parse, whichever thread's copy of the file they name; a range goes to the
child that keeps its document open when one is idle.

Time is limited per step, so a file cannot buy time by claiming pages: opening a document
(up to its page count) has OPEN_TIMEOUT_SECONDS, and each page then has PAGE_TIMEOUT_SECONDS
from the end of the one before (what follows the last page, metadata and outline, counts as
a page); a part, which has no count, has both for its first page. The whole request has
EXTRACT_TIMEOUT_SECONDS besides. OCR has caps of its own: before the child OCRs N pages (at
most MAX_OCR_PAGES) it says so, the worker gives each OCR page OCR_PAGE_SECONDS and extends
the whole request's limit by N times that, and the child raises its memory cap to
OCR_MEMORY_MB (its hard limit, set at start, is the larger of the two caps).
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from consumer import sandbox_pool
from consumer.sandbox_child import CRASH_EXIT, MEMORY_EXIT
from consumer.sandbox_pool import Memory, Recycle
from consumer.sandbox_wire import WireError
from core.errors import EngineCrashed, ExtractionTimeout, MemoryLimit, error_for_code
from engines.base import Extraction, PageFile

POLL_SECONDS = 0.5
RECYCLE = Recycle()  # the defaults of SANDBOX_MAX_REQUESTS and SANDBOX_MAX_RSS_MB
__all__ = ["Caps", "Counted", "Recycle", "extract", "extras", "render"]


@dataclass(frozen=True)
class Caps:
    """What one extraction may cost and hand back: each metadata value and all of them
    together in characters (cut, with a warning), the text in UTF-8 bytes (more is
    `too_large`), the document's distinct pages (more is `too_many_pages`, before any page
    is read) and the pages OCR reads (0: no limit)."""

    metadata_value_chars: int = 2000
    metadata_chars: int = 8000
    text_bytes: int = 64 * 2**20
    pages: int = 3000
    ocr_pages: int = 500

    @classmethod
    def of(cls, settings) -> Caps:
        return cls(
            settings.max_metadata_value_chars,
            settings.max_metadata_chars,
            settings.max_text_bytes,
            settings.max_pages,
            settings.max_ocr_pages,
        )


class Counted(Exception):
    """`on_count` declined to extract the document in one piece: it has `pages` pages."""

    def __init__(self, pages: int):
        super().__init__(f"{pages} pages")
        self.pages = pages


def extract(
    path: Path,
    *,
    engine: str,
    timeout: float,
    memory_mb: int,
    open_seconds: float = 120.0,
    page_seconds: float = 120.0,
    password: str = "",
    options: dict | None = None,
    pages: tuple[int, int] | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    on_tick: Callable[[], None] | None = None,
    on_count: Callable[[int], bool] | None = None,
    caps: Caps = Caps(),
    ocr_page_seconds: float = 60.0,
    ocr_memory_mb: int | None = None,
    recycle: Recycle = RECYCLE,
    document: str | None = None,
) -> Extraction:
    """Extract `path` (the range `pages`, or all) with `engine` in a warm child; raise the
    child's error, or timeout / memory_limit. `document` names the bytes at `path`, for a
    range or a count that may split the document: the same name must mean the same bytes.

    `on_tick` is called about every POLL_SECONDS while the child works (lease heartbeats);
    an exception it raises stops the child and propagates. With `on_count`, the child counts
    the pages first and goes on only if on_count(pages) is true; otherwise Counted is
    raised: one child both sizes a document and, most often, extracts it.
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
        "document": document,
    }
    child = sandbox_pool.take(extraction_memory(memory_mb, ocr_memory_mb), document)
    child.document = document  # what it keeps open after this request (a range, a count)
    limits = _Limits(timeout, open_seconds, page_seconds, memory_mb, caps.ocr_pages)
    limits.ocr_page_seconds, limits.ocr_memory_mb = ocr_page_seconds, ocr_memory_mb or 0
    limits.start(counted=pages is None)
    answer = _ask(child, "extract", request, limits, recycle, on_progress, on_tick, on_count)
    if answer[0] == "stopped":
        raise Counted(answer[1])
    outcome = answer[1]
    return Extraction(pages=PageFile(pages_path, outcome.pop("page_count")), **outcome)


def extraction_memory(memory_mb: int, ocr_memory_mb: int | None) -> Memory:
    """The limits of a child that extracts: `memory_mb` while it does, and OCR's cap (0 for
    none) as the hard limit it may lift that to."""
    soft = memory_mb * 2**20
    if ocr_memory_mb is None:
        return Memory(soft, soft)
    return Memory(soft, max(soft, ocr_memory_mb * 2**20) if ocr_memory_mb else 0)


def warm(memory_mb: int, ocr_memory_mb: int | None, recycle: Recycle, count: int):
    """Start `count` children with an extraction's limits and leave them idle in the pool, so
    the worker's first jobs do not wait for the engines' import (a fraction of a second)."""
    memory = extraction_memory(memory_mb, ocr_memory_mb)
    children = [sandbox_pool.take(memory, None) for _ in range(count)]
    for child in children:
        sandbox_pool.give_back(child, recycle)


def render(
    path: Path,
    out: Path,
    *,
    page: int,
    width: int,
    timeout: float,
    memory_mb: int,
    password: str = "",
    recycle: Recycle = RECYCLE,
) -> dict:
    """Draw page `page` of `path` as a PNG at `out` in a warm child, under the same time and
    memory limits as an extraction; {"width", "height"} drawn and the page's "points" [w, h],
    or the child's error."""
    request = {"path": str(path), "out": str(out), "page": page, "width": width}
    request["password"] = password
    memory = Memory(memory_mb * 2**20, memory_mb * 2**20)
    child = sandbox_pool.take(memory, None)
    # One step: opening the document and drawing its page share the request's time.
    limits = _Limits(timeout, timeout, timeout, memory_mb, None)
    limits.start(counted=True)
    return _ask(child, "render", request, limits, recycle)[1]


def extras(
    path: Path,
    folder: Path,
    *,
    numbers: list[int],
    outputs: list[str],
    timeout: float,
    open_seconds: float,
    page_seconds: float,
    memory_mb: int,
    password: str = "",
    on_tick: Callable[[], None] | None = None,
    ocr_memory_mb: int | None = None,
    recycle: Recycle = RECYCLE,
) -> dict:
    """Make `outputs` (tables, figures: engines/extras.py) of the pages `numbers` of `path`
    into `folder` in a warm child, under an extraction's time and memory limits (each page
    of each output a step); the child's summary, or its error. `ocr_memory_mb` as for
    extract: the child that has just extracted the job's text is the one taken."""
    request = {"path": str(path), "password": password, "numbers": numbers}
    request.update(outputs=outputs, folder=str(folder))
    child = sandbox_pool.take(extraction_memory(memory_mb, ocr_memory_mb), None)
    limits = _Limits(timeout, open_seconds, page_seconds, memory_mb, None)
    limits.start(counted=True)
    return _ask(child, "extras", request, limits, recycle, on_tick=on_tick)[1]


def _ask(child, kind, request, limits, recycle, on_progress=None, on_tick=None, on_count=None):
    """Send one request to `child` and wait for its answer (["ok", ...] or ["stopped", ...]);
    the child goes back to the pool when it answered, is killed when it did not, and an
    engine's error is raised as pdfq's."""
    answer = None
    try:
        child.requests += 1
        child.channel.send(kind, request)
        answer = _wait(child, limits, on_progress, on_tick, on_count)
    finally:
        if answer is None:  # stopped mid-request: it cannot be trusted to be ready again
            child.kill()
        else:
            sandbox_pool.give_back(child, recycle)
    if answer[0] == "error":
        raise error_for_code(answer[1])(answer[2])
    return answer


class _Limits:
    """The child's deadlines, the whole request's and its step's, and its memory cap, as
    OCR extends them."""

    def __init__(self, timeout, open_seconds, page_seconds, memory_mb, ocr_cap):
        self.timeout, self.open_seconds, self.page_seconds = timeout, open_seconds, page_seconds
        self.memory_mb, self.ocr_cap = memory_mb, ocr_cap
        self.ocr_page_seconds, self.ocr_memory_mb = 0.0, 0
        self.ocr_pages = 0

    def start(self, counted: bool):
        """The request is sent: the document is opened, and counted (or its first page read)."""
        now = time.monotonic()
        self.end = now + self.timeout
        self.counted, self.step = counted, "open"
        self.step_end = now + self.open_seconds + (0 if counted else self.page_seconds)

    @property
    def deadline(self) -> float:
        return min(self.end, self.step_end)

    def stepped(self):
        """The child ended a step (its count, a page): the next one has its own time."""
        self.step = "ocr" if self.ocr_pages else "page"
        seconds = self.ocr_page_seconds if self.ocr_pages else self.page_seconds
        self.step_end = time.monotonic() + seconds

    def ocr(self, pages: int):
        # The child OCRs at most the cap: a larger claim buys no more time.
        pages = min(pages, self.ocr_cap) if self.ocr_cap else pages
        self.ocr_pages += pages
        self.end += pages * self.ocr_page_seconds
        self.stepped()

    def timed_out(self) -> ExtractionTimeout:
        if self.step_end < self.end:
            return ExtractionTimeout(self._step_message())
        extra = (
            f" plus {self.ocr_page_seconds:g} s for each of {self.ocr_pages} OCR pages"
            if self.ocr_pages
            else ""
        )
        limit = f"the {self.timeout:g} s limit{extra}"
        return ExtractionTimeout(f"Extraction took longer than {limit}.")

    def _step_message(self) -> str:
        if self.step == "open" and self.counted:
            return (
                f"Opening the PDF took longer than the {self.open_seconds:g} s limit "
                "(OPEN_TIMEOUT_SECONDS)."
            )
        if self.step == "open":
            seconds = self.open_seconds + self.page_seconds
            return (
                f"Opening the PDF and reading its first page took longer than {seconds:g} s "
                "(OPEN_TIMEOUT_SECONDS + PAGE_TIMEOUT_SECONDS)."
            )
        if self.step == "ocr":
            return (
                f"OCR of a page took longer than the {self.ocr_page_seconds:g} s limit "
                "(OCR_PAGE_SECONDS)."
            )
        return (
            f"A page, or the document's metadata and outline after the last page, took longer "
            f"than the {self.page_seconds:g} s limit (PAGE_TIMEOUT_SECONDS)."
        )

    def memory(self) -> int:
        return max(self.memory_mb, self.ocr_memory_mb) if self.ocr_pages else self.memory_mb


def _wait(child, limits: _Limits, on_progress, on_tick, on_count) -> list:
    """The child's answer: ["ok", outcome], ["error", code, message] or ["stopped", pages]
    (after on_count declined); raises when the child died or ran out of time."""
    channel = child.channel
    while True:
        remaining = limits.deadline - time.monotonic()
        if remaining <= 0:
            raise limits.timed_out()
        if on_tick:
            on_tick()
        try:
            if not channel.poll(min(remaining, POLL_SECONDS)):
                continue
            message = channel.recv()
        except (EOFError, OSError, WireError):
            break  # the child is gone, or talks nonsense: either way it is done
        kind = message[0]
        if kind in ("progress", "count", "step"):
            limits.stepped()
        if kind == "progress" and on_progress:
            on_progress(message[1], message[2])
        elif kind == "count" and on_count:
            go = bool(on_count(message[1]))
            channel.send("go", go)
            if not go:
                _stopped(child, limits)
                return ["stopped", message[1]]
        elif kind == "ocr":
            limits.ocr(message[1])
        elif kind in ("ok", "error"):
            return message
    raise _died(child, limits)


def _stopped(child, limits: _Limits):
    """Wait for the child to confirm it stopped after its count (it then serves again)."""
    while time.monotonic() < limits.deadline:
        if child.channel.poll(POLL_SECONDS) and child.channel.recv()[0] == "stopped":
            return
    raise limits.timed_out()


def _died(child, limits: _Limits) -> Exception:
    exit_code = child.exit_code(5)
    memory_mb = limits.memory()
    if exit_code == MEMORY_EXIT:
        return MemoryLimit(f"Extraction needed more than the {memory_mb} MB memory limit.")
    if exit_code == -signal.SIGKILL:
        # The kernel's OOM killer, or an allocation the memory cap refused inside C code.
        return MemoryLimit(f"The extraction process was killed (memory limit {memory_mb} MB).")
    if exit_code == -signal.SIGABRT and limits.ocr_pages:
        # Tesseract (C++) aborts on an allocation the memory cap refused (std::bad_alloc).
        return MemoryLimit(f"OCR needed more than the {memory_mb} MB memory limit.")
    if exit_code == CRASH_EXIT:
        return EngineCrashed("The extraction process failed unexpectedly.")
    return EngineCrashed(f"The extraction process died (exit code {exit_code}).")
