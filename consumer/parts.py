"""Page-parallel extraction: a long document split into page ranges that several workers
extract at once, each in its own sandbox, merged in page order.

The job's worker (the coordinator) counts the pages (in the sandbox: a count is only what
the page tree really holds), splits them into at most MAX_PARTS_PER_JOB ranges, and keeps
PART_WINDOW `extract_part` tasks of the job on the queue at a time (none while the queue
is half full: parts are a speed-up, never a reason for the web to answer `queue_full`).
It works through the ranges itself, the first one (for which no task is queued) first and
then from the last one back, taking any that no live worker holds; it waits only for ranges
another worker is extracting right now. So one worker
alone still finishes the job, and a second idle worker halves the time.

Each range has a lease under the name `<job>.<run>.<first>-<last>` that its extractor renews
while it works. A part worker that dies leaves a lease that expires and the coordinator
extracts that range itself; a part that fails with a retryable error releases its lease and
is retried alone (by Huey, or by the coordinator taking it first). A terminal error
(corrupt, timeout, memory) in any range fails the job with that error. Finished ranges are
stored objects (keys.part_key), so a coordinator that dies and is recovered keeps them.

The coordinator's count leaves the document open in its child, page tree walked, for the
first range; the ranges other workers store are downloaded as soon as they are seen done;
once merged, their objects are deleted while the job's result is written.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import math
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from consumer import part_sources, sandbox, slots
from consumer.heartbeat import JobCanceled, PartLeaseLost, lease_tick, part_tick, worker_name
from core import engine_registry, keys
from core.adapters.queue import EXTRACT_PART
from core.errors import JobDeleted, NotFound, ObjectMissing, PdfqError, TooLarge, error_for_code
from core.jobs import dedup, options
from core.jobs.model import Job, JobStatus
from core.services import Services
from core.settings import Settings
from engines.base import Extraction, PageFile, document_warnings, text_warnings

log = logging.getLogger("pdfq.consumer")
WAIT_SECONDS = 0.025  # between looks at ranges other workers hold (one Redis read)
# Part objects read (or deleted) at once when the job's worker merges them: each is a
# round trip to storage (20 ms or more to real S3), eighteen of them for a 352-page book.
CONCURRENT_REQUESTS = 8
_warming = threading.Lock()  # taken for good by the first worker of a process to warm it


def split(total: int, size: int) -> list[tuple[int, int]]:
    """Pages 1..total as consecutive (first, last) ranges of at most `size` pages."""
    return [(first, min(first + size - 1, total)) for first in range(1, total + 1, size)]


def part_size(total: int, part_pages: int, max_parts: int) -> int:
    """PART_PAGES pages a range, or more when that would make over `max_parts` ranges."""
    return max(part_pages, math.ceil(total / max_parts))


def extract(
    services: Services,
    job: Job,
    path: Path,
    engine: str,
    worker: str,
    tick: Callable[[], None],
    dropping: list[Future],
) -> Extraction:
    """Extract `path` for `job`: in one sandbox, or in parts when it is long enough. The
    merged parts' objects are deleted in the background: the deletes go into `dropping`,
    for the caller to wait on (`dropped`) once it has stored the result."""
    settings = services.settings

    def in_one_piece(total: int) -> bool:
        return total < settings.parallel_min_pages or total <= settings.part_pages

    # The child counts the pages first; a long document is stopped there and split. A page
    # selection runs in one piece: parts split the whole document.
    sized = settings.parallel_min_pages and not options.selects_pages(job.options)
    try:
        return sandboxed(
            services,
            job,
            path,
            engine,
            on_progress=lambda done, of: services.inflight.set_progress(job.id, done, of),
            on_tick=tick,
            on_count=in_one_piece if sized else None,
            # Counted by pdfminer.six, a document to split stays open for the first range.
            document=document_name(job) if sized else None,
        )
    except sandbox.Counted as counted:
        coordinator = _Coordinator(services, job, path, engine, worker, tick, counted.pages)
        extraction = coordinator.run()
        dropping.extend(coordinator.dropping)
        return extraction


def dropped(deletes: list[Future]):
    """Wait for the deletes of merged parts; the first that failed raises its error."""
    for delete in deletes:
        delete.result()


def sandboxed(services: Services, job: Job, path: Path, engine: str, **run) -> Extraction:
    """One sandboxed extraction of `path` for `job`: its limits, password and options (as
    the engine runs them: OCR resolved), in one of the worker process's extraction slots."""
    resolved = options.for_engine(job.options, engine, services.settings)
    caps = run.pop("caps", None) or sandbox.Caps.of(services.settings)
    with slots.held(services.settings.extract_slots, run.get("on_tick")):
        return sandbox.extract(
            path, engine=engine, options=resolved, caps=caps, **_limits(services, job), **run
        )


def warm_sandbox(services: Services):
    """The children this worker process extracts with, ready with a job's limits before its
    first job: one per extraction slot for thread workers (which share one process), one for
    a process worker. Every worker of a process asks at start-up; the first one does it."""
    if not _warming.acquire(blocking=False):
        return
    settings = services.settings
    count = slots.size(settings.extract_slots) if settings.worker_type == "thread" else 1
    limits = _limits(services, None)
    sandbox.warm(limits["memory_mb"], limits["ocr_memory_mb"], limits["recycle"], count)


def _limits(services: Services, job: Job | None) -> dict:
    settings = services.settings
    return {
        "timeout": settings.extract_timeout,
        "open_seconds": settings.extract_open_seconds,
        "page_seconds": settings.extract_page_seconds,
        "memory_mb": settings.extract_memory_mb,
        "password": options.password(job.options, settings) if job else "",
        "ocr_page_seconds": settings.ocr_page_seconds,
        "ocr_memory_mb": settings.ocr_memory_mb,
        "recycle": sandbox.Recycle(
            settings.sandbox_max_requests,
            settings.sandbox_max_rss_mb,
            slots.size(settings.extract_slots),
        ),
    }


def ocr_share(limit: int, first: int, last: int, total: int | None) -> int:
    """The pages one range may OCR: its share of the job's MAX_OCR_PAGES, in proportion to
    its pages (rounded up, so a job within the limit OCRs every range whole). Without the
    job's page count (its progress lost with the state store) the range has the whole limit."""
    if not limit or not total:
        return limit
    return math.ceil(limit * (last - first + 1) / total)


def run_id(engine: str, job: Job, settings: Settings) -> str:
    """Parts of one run: same engine, version and options (a reprocess with other options
    must not pick up the parts of the earlier run)."""
    version = engine_registry.version(engine)
    resolved = options.for_engine(job.options, engine, settings)
    digest = dedup.options_digest(engine, version, options.dedup_view(resolved))
    return f"{engine}-{version}-{digest[:8]}"


def document_name(job: Job) -> str:
    """The name of the job's source bytes, whichever copy of them a worker holds: the ranges
    of one document share a parse in a child under it (engines/pdfminer_engine.py)."""
    return f"{job.source_key}@{job.source_etag}"


def part_name(job_id: str, run: str, first: int, last: int) -> str:
    """The name of one range's lease and state keys."""
    return f"{job_id}.{run}.{first}-{last}"


class _Coordinator:
    def __init__(self, services: Services, job, path, engine, worker, tick, total):
        self.services, self.job, self.path, self.engine = services, job, path, engine
        self.worker, self.tick, self.total = worker, tick, total
        self.run_id = run_id(engine, job, services.settings)
        settings = services.settings
        size = part_size(total, settings.part_pages, settings.max_parts_per_job)
        self.parts = split(total, size)
        self.state, self.inflight = services.state, services.inflight
        self.unqueued = list(self.parts[1:])  # ranges no task was enqueued for yet
        self.queued: list[tuple[int, int]] = []
        self.kept: dict[str, Path] = {}  # part objects this worker wrote, still on its disk
        self.uploads: list[Future] = []
        self.uploader: ThreadPoolExecutor | None = None
        self.dropping: list[Future] = []  # the deletes of the merged parts, under way
        # Ranges other workers stored, downloaded as soon as they are seen done.
        self.fetcher: ThreadPoolExecutor | None = None
        self.fetching: dict[str, Future] = {}

    def _keys(self, first: int, last: int) -> dict[str, str]:
        return keys.part_keys(part_name(self.job.id, self.run_id, first, last))

    def run(self) -> Extraction:
        log.info("job %s: %d pages in %d parts", self.job.id, self.total, len(self.parts))
        self.inflight.set_progress(self.job.id, 0, self.total)
        # One thread uploads the ranges this worker read while it reads the next one; others
        # download the ranges other workers stored meanwhile (all done before the folder goes).
        with (
            ThreadPoolExecutor(1, thread_name_prefix="pdfq-part-upload") as self.uploader,
            ThreadPoolExecutor(CONCURRENT_REQUESTS, thread_name_prefix="pdfq-part") as self.fetcher,
        ):
            self._extract_all()
            for upload in self.uploads:
                upload.result()  # a range that could not be stored fails the job as before
            return self._merge()

    def _extract_all(self):
        pending = list(self.parts)
        while pending:
            self.tick()
            self._sweep(pending)
            self._enqueue(pending)
            taken = False
            for first, last in self._order(pending):
                name = part_name(self.job.id, self.run_id, first, last)
                part = keys.part_keys(name)
                if self.state.get(part["done"]):
                    pending.remove((first, last))
                    self._prefetch(self._stored_key(first, last))
                elif failed := self.state.get(part["failed"]):
                    error = json.loads(failed)
                    raise error_for_code(error["code"])(error["message"])
                elif self.inflight.acquire(name, self.worker):
                    range_tick = lease_tick(self.inflight, name, self.worker, PartLeaseLost)

                    def tick(range_tick=range_tick):
                        self.tick()  # the job's lease
                        range_tick()  # and this range's

                    handed = []

                    def later(store, name=name, handed=handed):
                        # The range's lease is kept until it is stored: another worker that
                        # took its queued task meanwhile finds it held, then done.
                        handed.append(self.uploader.submit(self._stored, store, name))
                        self.uploads.append(handed[-1])

                    try:
                        _extract_part(
                            self.services,
                            self.job,
                            self.engine,
                            first,
                            last,
                            self.path,
                            tick,
                            kept=self.kept,
                            later=later,
                        )
                        pending.remove((first, last))
                        if (first, last) in self.unqueued:
                            self.unqueued.remove((first, last))
                    except PartLeaseLost:
                        log.warning("job %s: pages %d-%d taken over", self.job.id, first, last)
                    finally:
                        if not handed:
                            self.inflight.release(name, self.worker)
                    taken = True
                    break
            self._progress()
            if pending and not taken:
                time.sleep(WAIT_SECONDS)

    def _stored(self, store: Callable[[], None], name: str):
        try:
            store()
        finally:
            self.inflight.release(name, self.worker)

    def _order(self, pending: list[tuple[int, int]]) -> list[tuple[int, int]]:
        """The ranges in the order this worker takes them: the first (no task was queued for
        it: only this worker reads it) at once, then the others from the back, since the
        queue's tasks run from the front. Left for last, the first range kept the job
        waiting on this worker alone while the others had nothing left to take."""
        ahead = [part for part in pending if part == self.parts[0]]
        return ahead + [part for part in reversed(pending) if part != self.parts[0]]

    def _sweep(self, pending: list[tuple[int, int]]):
        """Drop the ranges other workers finished (one read for all): the loop below takes
        ranges from the back, so without this it would not see the front ones done, and the
        window would never make room for the next tasks while another worker sits idle."""
        done = self.state.get_many([self._keys(first, last)["done"] for first, last in pending])
        for part, key in zip(list(pending), done, strict=True):
            if done[key]:
                pending.remove(part)
                self._prefetch(self._stored_key(*part))

    def _stored_key(self, first: int, last: int) -> str:
        """The object a range is stored as."""
        return keys.part_key(self.job.tenant, self.job.id, self.run_id, first, last)

    def _prefetch(self, key: str):
        """Start downloading a stored range, unless this worker wrote it or is downloading it
        already: the merge then waits for the last ones only."""
        if key not in self.kept and key not in self.fetching:
            self.fetching[key] = self.fetcher.submit(self._fetch, key)

    def _fetch(self, key: str) -> tuple[str, Path]:
        path = self.path.with_suffix(f".fetched.{key.rsplit('/', 1)[-1]}l")  # ...-000020.jsonl
        with open(path, "wb") as out:
            self.services.storage.download_to(key, out)
        return key, path

    def _enqueue(self, pending: list[tuple[int, int]]):
        """Top the job's tasks on the queue up to PART_WINDOW, while the queue has room."""
        settings = self.services.settings
        self.queued = [part for part in self.queued if part in pending]
        room = settings.part_window - len(self.queued)
        self.unqueued = [part for part in self.unqueued if part in pending]
        if room <= 0 or not self.unqueued:
            return
        if settings.queue_max_pending:
            room = min(room, settings.queue_max_pending // 2 - self.services.queue.pending())
        for first, last in self.unqueued[: max(room, 0)]:
            self.services.queue.put(EXTRACT_PART, self.job.source_key, self.engine, first, last)
            self.unqueued.remove((first, last))
            self.queued.append((first, last))

    def _drop(self, stored: list[str]):
        """Forget the ranges' flags, and start deleting their objects (`dropping`): the
        result is written meanwhile, a round trip or more saved at the end of every job."""
        names = [self._keys(first, last) for first, last in self.parts]
        self.state.delete(*(part[kind] for part in names for kind in ("done", "progress")))
        pool = ThreadPoolExecutor(CONCURRENT_REQUESTS, thread_name_prefix="pdfq-part-drop")
        self.dropping += [pool.submit(self.services.storage.delete, key) for key in stored]
        pool.shutdown(wait=False)  # its threads end with the last delete

    def _fetched(self, stored: list[str]) -> dict[str, Path]:
        """Each part object as a file on this worker's disk: those it wrote itself kept from
        then, the others downloaded (most while it extracted, the rest now, several at once)."""
        for key in stored:
            self._prefetch(key)
        return {**self.kept, **dict(fetch.result() for fetch in self.fetching.values())}

    @contextlib.contextmanager
    def _dropped_if_too_large(self, stored: list[str]):
        try:
            yield
        except TooLarge:
            self._drop(stored)  # the job fails for good: its ranges are of no more use
            dropped(self.dropping)
            raise

    def _progress(self):
        names = [self._keys(first, last)["progress"] for first, last in self.parts]
        done = sum(int(v or 0) for v in self.state.get_many(names).values())
        self.inflight.set_progress(self.job.id, min(done, self.total), self.total)

    def _merge(self) -> Extraction:
        """The stored ranges, in page order, copied line by line into one pages file."""
        limit = self.services.settings.max_text_bytes
        merged = self.path.with_suffix(".merged.jsonl")
        header: dict = {}
        seconds, count, size = 0.0, 0, 0
        stored = [self._stored_key(first, last) for first, last in self.parts]
        with open(merged, "wb") as out, self._dropped_if_too_large(stored):
            local = self._fetched(stored)
            for key in stored:
                lines = _lines(local[key])
                part = json.loads(next(lines))
                header = header or part
                seconds += part["seconds"]
                for line in lines:
                    size += len(json.loads(line)["text"].encode("utf-8", "surrogatepass"))
                    if size > limit:
                        raise TooLarge(
                            f"The extracted text is over the {limit} byte limit "
                            "(MAX_TEXT_BYTES); extract a piece with the pages or max_pages "
                            "option."
                        )
                    out.write(line + b"\n")
                    count += 1
        self._drop(stored)
        pages = PageFile(merged, count)
        capped = document_warnings(header["warnings"])
        return Extraction(
            pages=pages,
            metadata=header["metadata"],
            encrypted=header["encrypted"],
            seconds=seconds,
            warnings=text_warnings(pages) + capped,
            outline=header.get("outline", []),
        )


def _lines(path: Path) -> Iterator[bytes]:
    """A part file's lines (split on \n only, as results.stream_lines splits them)."""
    with open(path, "rb") as fp:
        for line in fp:
            if line := line.rstrip(b"\n"):
                yield line


def _extract_part(
    services: Services,
    job: Job,
    engine: str,
    first: int,
    last: int,
    path,
    tick,
    kept: dict[str, Path] | None = None,
    later: Callable[[Callable[[], None]], None] | None = None,
) -> bool:
    """Extract pages first..last of the source at `path` and store them as a part object
    (its file also left beside `path`, named in `kept`, when given); False when the job
    stopped meanwhile (nothing kept). With `later`, the upload and the done flag are handed
    to it (the job's worker uploads in the background while it reads its next range)."""
    storage, state = services.storage, services.state
    run = run_id(engine, job, services.settings)
    part = keys.part_keys(part_name(job.id, run, first, last))
    key = keys.part_key(job.tenant, job.id, run, first, last)
    ttl = services.settings.progress_ttl

    def done():
        state.set(part["progress"], str(last - first + 1), ttl)
        state.set(part["done"], "1", ttl)

    if _stored_before(storage, job, key):
        done()
        return True
    caps = sandbox.Caps.of(services.settings)
    _done, total = services.inflight.progress(job)
    share = ocr_share(caps.ocr_pages, first, last, total)
    extraction = sandboxed(
        services,
        job,
        path,
        engine,
        caps=dataclasses.replace(caps, ocr_pages=share),
        pages=(first, last),
        on_progress=lambda done, _: state.set(part["progress"], str(done), ttl),
        on_tick=tick,
        # The job's source, whichever copy `path` is: a child keeps it open between ranges.
        document=document_name(job),
    )
    log.info("job %s: pages %d-%d extracted in %.2f s", job.id, first, last, extraction.seconds)
    if not _still_running(services, job):
        return False  # canceled, ended or erased while this range was read: nothing kept
    # Written now: the child's pages file is the next range's.
    local = Path(path).with_suffix(f".part.{first}-{last}.jsonl") if kept is not None else None
    stored = _part_file(extraction, local)

    def store():
        with open(stored, "rb") as body:
            storage.upload_file(key, body, "application/x-ndjson", {})
        if local is None:
            stored.unlink()
        _unless_erased(services, job, key)
        done()

    if local is not None:
        kept[key] = local
    if later is None:
        store()
    else:
        later(store)
    return True


def _stored_before(storage, job: Job, key: str) -> bool:
    """Whether an earlier attempt of the job stored this range (and its done flag went with
    Redis). A job's first attempt asks no request: within one attempt a lost flag costs the
    range's extraction again, the same bytes written again, never a wrong result."""
    if not job.attempts:
        return False
    try:
        storage.head(key)
    except ObjectMissing:
        return False
    return True


def _still_running(services: Services, job: Job) -> bool:
    """Whether the job still wants its parts (a range outlives a cancel or a DELETE: parts
    run on other workers, which the job's own stop does not reach)."""
    try:
        return services.records.get(job.id, job.tenant).status is JobStatus.PROCESSING
    except NotFound:  # erased (JobDeleted is a NotFound)
        return False


def _unless_erased(services: Services, job: Job, key: str):
    """Remove a part written after its job was erased. The erasure lists parts/ after it
    writes the tombstone, so a part it missed was written later, and this read sees it."""
    try:
        services.records.get(job.id, job.tenant)
    except JobDeleted:
        services.storage.delete(key)


def _part_file(extraction: Extraction, keep: Path | None) -> Path:
    """A range as one JSON-lines file (at `keep`, or beside the child's pages file): a
    header line, then the child's page lines, copied without holding them."""
    header = {
        "outline": extraction.outline,
        "metadata": extraction.metadata,
        "encrypted": extraction.encrypted,
        "seconds": extraction.seconds,
        "warnings": extraction.warnings,
    }
    pages = extraction.pages
    stored = keep or pages.path.with_suffix(".part.jsonl")
    with open(stored, "wb") as out:
        out.write(json.dumps(header).encode() + b"\n")
        with open(pages.path, "rb") as lines:
            shutil.copyfileobj(lines, out)
    return stored


def run_part(
    services: Services, source_key: str, engine: str, first: int, last: int, *, final_attempt: bool
):
    """The extract_part task: one range of a page-parallel job, if no one has it yet."""
    tenant, job_id = keys.parse_source_key(source_key)
    try:
        job = services.records.get(job_id, tenant)
    except NotFound:
        part_sources.forget(source_key)
        return  # erased (or never real): nothing to extract
    name = part_name(job_id, run_id(engine, job, services.settings), first, last)
    part = keys.part_keys(name)
    if job.status is not JobStatus.PROCESSING:
        part_sources.forget(source_key)
        return  # the job ended: its source is of no more use here
    if services.state.get(part["done"]):
        return  # the coordinator got here first
    worker = worker_name()
    if not services.inflight.acquire(name, worker):
        return  # someone extracts it now; if they die, the coordinator takes it over
    stopped = False
    try:
        with part_sources.held(services, source_key, job.source_etag) as path:
            tick = part_tick(services.inflight, job_id, name, worker)
            stopped = not _extract_part(services, job, engine, first, last, path, tick)
    except PartLeaseLost:
        log.warning("job %s: part %d-%d taken over by another worker", job_id, first, last)
    except JobCanceled:  # canceled or erased: the range is of no more use, nothing is kept
        log.info("job %s: part %d-%d stopped, the job was canceled", job_id, first, last)
        stopped = True
    except PdfqError as error:
        if error.retryable and not final_attempt:
            raise  # Huey retries this part alone; the coordinator may take it first
        ttl = services.settings.progress_ttl
        services.state.set(part["failed"], json.dumps(error.to_dict()), ttl)
    finally:
        services.inflight.release(name, worker)
        if stopped:
            part_sources.forget(source_key)
