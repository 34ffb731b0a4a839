"""Page-parallel extraction: a long document split into page ranges that several workers
extract at once, each in its own sandbox, merged in page order.

The job's worker (the coordinator) counts the pages, enqueues one `extract_part` task per
range but the first, then works through the ranges itself, taking any that no live worker
holds; it waits only for ranges another worker is extracting right now. So one worker
alone still finishes the job, and a second idle worker halves the time.

Each range has a lease (core/inflight.py, under the id `<job>.<run>.<first>-<last>`) that its
extractor renews while it works. A part worker that dies leaves a lease that expires and the
coordinator extracts that range itself; a part that fails with a retryable error releases
its lease and is retried alone (by Huey, or by the coordinator taking it first). A terminal
error (corrupt, timeout, memory) in any range fails the job with that error. Finished ranges
are stored objects (keys.part_key), so a coordinator that dies and is recovered keeps them.
"""

from __future__ import annotations

import atexit
import json
import logging
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from consumer import engines, sandbox, source
from consumer.extract import Extraction, Page, text_warnings
from core import dedup, keys, options, services
from core.errors import PdfqError
from core.jobs import Job, JobStatus, JobStore
from core.settings import get_settings
from core.storage import ObjectMissing

log = logging.getLogger("pdfq.consumer")
WAIT_SECONDS = 0.1


class PartLeaseLost(Exception):
    """Another extractor took this range over (we were presumed dead)."""


def split(total: int, size: int) -> list[tuple[int, int]]:
    """Pages 1..total as consecutive (first, last) ranges of at most `size` pages."""
    return [(first, min(first + size - 1, total)) for first in range(1, total + 1, size)]


def extract(
    store: JobStore,
    job: Job,
    path: Path,
    engine: str,
    worker: str,
    tick: Callable[[], None],
) -> Extraction:
    """Extract `path` for `job`: in one sandbox, or in parts when it is long enough."""
    settings = get_settings()
    # A page selection (issue 5 options) runs in one piece: parts split the whole document.
    split_up = settings.parallel_min_pages and not options.selects_pages(job.options)
    total = engines.page_count(path) if split_up else None
    if not total or total < settings.parallel_min_pages or total <= settings.part_pages:
        return _sandboxed(
            job,
            path,
            engine,
            on_progress=lambda done, of: store.set_progress(job.id, done, of),
            on_tick=tick,
        )
    return _Coordinator(store, job, path, engine, worker, tick, total).run()


def _sandboxed(job: Job, path: Path, engine: str, **run) -> Extraction:
    """One sandboxed extraction of `path` for `job`: its limits, password and options."""
    settings = get_settings()
    return sandbox.run(
        path,
        timeout=settings.extract_timeout,
        memory_mb=settings.extract_memory_mb,
        password=options.password(job.options, settings),
        options=job.options,
        engine=engine,
        **run,
    )


def _run_id(engine: str, job: Job) -> str:
    """Parts of one run: same engine, version and options (a reprocess with other options
    must not pick up the parts of the earlier run)."""
    digest = dedup.options_digest(
        engine, engines.engine_version(engine), options.dedup_view(job.options)
    )
    return f"{engine}-{engines.engine_version(engine)}-{digest[:8]}"


def _part_id(job_id: str, run: str, first: int, last: int) -> str:
    return f"{job_id}.{run}.{first}-{last}"


class _Coordinator:
    def __init__(self, store, job, path, engine, worker, tick, total):
        self.store, self.job, self.path, self.engine = store, job, path, engine
        self.worker, self.tick, self.total = worker, tick, total
        self.run_id = _run_id(engine, job)
        self.parts = split(total, get_settings().part_pages)
        self.state, self.inflight = services.state(), services.inflight()

    def run(self) -> Extraction:
        from consumer.tasks import enqueue_part  # tasks imports the pipeline, which imports us

        log.info("job %s: %d pages in %d parts", self.job.id, self.total, len(self.parts))
        self.store.set_progress(self.job.id, 0, self.total)
        for first, last in self.parts[1:]:
            enqueue_part(self.job.source_key, self.engine, first, last)
        pending = list(self.parts)
        while pending:
            self.tick()
            taken = False
            for first, last in list(pending):
                name = _part_id(self.job.id, self.run_id, first, last)
                if self.state.get(f"part-done:{name}"):
                    pending.remove((first, last))
                elif failed := self.state.get(f"part-failed:{name}"):
                    error = json.loads(failed)
                    raise sandbox._error_class(error["code"])(error["message"])
                elif self.inflight.acquire(name, self.worker):
                    part_tick = _heartbeat(name, self.worker)

                    def tick(part_tick=part_tick):
                        self.tick()  # the job's lease
                        part_tick()  # and this range's

                    try:
                        _extract_part(self.job, self.engine, first, last, self.path, tick)
                        pending.remove((first, last))
                    except PartLeaseLost:
                        log.warning("job %s: pages %d-%d taken over", self.job.id, first, last)
                    finally:
                        self.inflight.release(name, self.worker)
                    taken = True
                    break
            self._progress()
            if pending and not taken:
                time.sleep(WAIT_SECONDS)
        return self._merge()

    def _progress(self):
        names = [
            f"part-progress:{_part_id(self.job.id, self.run_id, f, last)}" for f, last in self.parts
        ]
        done = sum(int(v or 0) for v in self.state.get_many(names).values())
        self.store.set_progress(self.job.id, min(done, self.total), self.total)

    def _merge(self) -> Extraction:
        storage = self.store.storage
        pages: list[Page] = []
        first_part: dict = {}
        seconds = 0.0
        for first, last in self.parts:
            key = keys.part_key(self.job.tenant, self.job.id, self.run_id, first, last)
            part, _ = storage.get_json(key)
            first_part = first_part or part
            seconds += part["seconds"]
            pages.extend(Page(item["page"], item["text"]) for item in part["pages"])
        for first, last in self.parts:
            name = _part_id(self.job.id, self.run_id, first, last)
            for prefix in ("part-done:", "part-progress:"):
                self.state.delete(prefix + name)
            storage.delete(keys.part_key(self.job.tenant, self.job.id, self.run_id, first, last))
        return Extraction(
            pages=pages,
            metadata=first_part["metadata"],
            encrypted=first_part["encrypted"],
            seconds=seconds,
            warnings=text_warnings(pages),
        )


def _extract_part(job: Job, engine: str, first: int, last: int, path: Path, tick):
    """Extract pages first..last of the source at `path` and store them as a part object."""
    settings, storage, state = get_settings(), services.storage(), services.state()
    run_id = _run_id(engine, job)
    name = _part_id(job.id, run_id, first, last)
    key = keys.part_key(job.tenant, job.id, run_id, first, last)
    ttl = settings.progress_ttl
    try:
        storage.head(key)  # stored by an extractor whose done flag was lost (Redis wiped)
    except ObjectMissing:
        extraction = _sandboxed(
            job,
            path,
            engine,
            pages=(first, last),
            on_progress=lambda done, _: state.set(f"part-progress:{name}", str(done), ttl),
            on_tick=tick,
        )
        log.info("job %s: pages %d-%d extracted in %.2f s", job.id, first, last, extraction.seconds)
        storage.put_json(
            key,
            {
                "pages": [{"page": p.number, "text": p.text} for p in extraction.pages],
                "metadata": extraction.metadata,
                "encrypted": extraction.encrypted,
                "seconds": extraction.seconds,
            },
        )
    state.set(f"part-progress:{name}", str(last - first + 1), ttl)
    state.set(f"part-done:{name}", "1", ttl)


def run_part(source_key: str, engine: str, first: int, last: int, *, final_attempt: bool):
    """The extract_part task: one range of a page-parallel job, if no one has it yet."""
    from consumer.pipeline import worker_name

    tenant, job_id = keys.parse_source_key(source_key)
    store, state, inflight = services.jobs(), services.state(), services.inflight()
    job = store.get(job_id, tenant)
    name = _part_id(job_id, _run_id(engine, job), first, last)
    if job.status is not JobStatus.PROCESSING or state.get(f"part-done:{name}"):
        return  # the job ended, or the coordinator got here first
    worker = worker_name()
    if not inflight.acquire(name, worker):
        return  # someone extracts it now; if they die, the coordinator takes it over
    try:
        path = _source(store, source_key)
        _extract_part(job, engine, first, last, path, _heartbeat(name, worker))
    except PartLeaseLost:
        log.warning("job %s: part %d-%d taken over by another worker", job_id, first, last)
    except PdfqError as error:
        if error.retryable and not final_attempt:
            raise  # Huey retries this part alone; the coordinator may take it first
        state.set(f"part-failed:{name}", json.dumps(error.to_dict()), get_settings().progress_ttl)
    finally:
        inflight.release(name, worker)


# The last source each worker thread downloaded: a worker usually takes several ranges of
# one job in a row. A source key names one job's PDF, which never changes. Per thread, so
# thread workers never delete a file another thread is extracting.
_local = threading.local()
_folders: set[Path] = set()


def _source(store: JobStore, source_key: str) -> Path:
    """A local copy of the job's source, downloaded once per worker and job."""
    if getattr(_local, "key", None) != source_key:
        _drop(getattr(_local, "folder", None))
        _local.key = _local.folder = None
        folder = Path(tempfile.mkdtemp(prefix="pdfq-part-"))
        _folders.add(folder)
        try:  # the same checks as the coordinator's: the object may have changed since
            limit = get_settings().max_upload_bytes
            source.download_checked(store.storage, source_key, folder / "source.pdf", limit)
        except BaseException:
            _drop(folder)
            raise
        _local.key, _local.folder = source_key, folder
    return _local.folder / "source.pdf"


def _drop(folder: Path | None):
    if folder is not None:
        _folders.discard(folder)
        shutil.rmtree(folder, ignore_errors=True)


@atexit.register
def _forget_sources():
    for folder in list(_folders):
        _drop(folder)


def _heartbeat(name: str, worker: str) -> Callable[[], None]:
    inflight = services.inflight()
    every, last = inflight.lease_seconds / 3, time.monotonic()

    def tick():
        nonlocal last
        if time.monotonic() - last < every:
            return
        last = time.monotonic()
        try:
            if not inflight.renew(name, worker):
                raise PartLeaseLost()
        except PdfqError:
            return  # Redis down: keep working

    return tick
