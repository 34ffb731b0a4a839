"""Page-parallel extraction (consumer/parts.py): a long document split into page ranges,
extracted part by part and merged into exactly the single-pass result; a part whose worker
died is extracted again, and a part that cannot be read fails the whole job."""

import tempfile
import threading
import time
from pathlib import Path

import pytest

from consumer import parts, pipeline
from core import keys
from core.jobs.model import JobStatus
from engines.pdfminer_engine import extract
from tests.support import hostile
from tests.support.corpus import BAD, GOOD, NONDETERMINISTIC
from tests.support.jobs import moved, result_pages, result_text, stored_bytes, stored_job


def test_pages_split_into_consecutive_ranges_that_cover_the_document():
    assert parts.split(10, 4) == [(1, 4), (5, 8), (9, 10)]
    assert parts.split(4, 4) == [(1, 4)]


@pytest.mark.parametrize("name", ["pdfminer_dmca.pdf", "pdfjs_tracemonkey.pdf"])
def test_a_page_range_extracts_the_same_pages_as_the_whole_document(name):
    assert name not in NONDETERMINISTIC
    whole = extract(GOOD / name).pages
    part = extract(GOOD / name, pages=(3, 7)).pages
    assert [(p.number, p.text) for p in part] == [(p.number, p.text) for p in whole[2:7]]


@pytest.mark.env(PARALLEL_MIN_PAGES="2", PART_PAGES="4")
@pytest.mark.parametrize("name", ["pdfminer_dmca.pdf", "pdfjs_tracemonkey.pdf"])
def test_page_parallel_result_equals_single_pass_extraction(services, name):
    job = stored_job(services, GOOD / name)
    assert pipeline.process(services, job.source_key) is JobStatus.SUCCEEDED
    single = extract(GOOD / name)
    assert result_text(services, job) == single.text
    assert [p["page"] for p in result_pages(services, job)] == [p.number for p in single.pages]
    done = services.records.get(job.id, "public")
    assert done.pages_done == done.pages_total == len(single.pages)
    # The parts are merged and removed: nothing is left under parts/.
    assert list(services.storage.list_keys(keys.PARTS_PREFIX)) == []


@pytest.mark.env(PARALLEL_MIN_PAGES="2", PART_PAGES="5", LEASE_SECONDS="3")
def test_a_part_held_by_a_dead_worker_is_extracted_again_alone(services):
    job = stored_job(services, GOOD / "pdfminer_dmca.pdf")  # 18 pages: 4 parts
    run = parts.run_id("pdfminer", job, services.settings)
    # A worker took pages 6-10 and died: its lease runs out, and no one else may take it first.
    assert services.inflight.acquire(parts.part_name(job.id, run, 6, 10), "ghost:1:MainThread")
    assert pipeline.process(services, job.source_key) is JobStatus.SUCCEEDED
    assert result_text(services, job) == extract(GOOD / "pdfminer_dmca.pdf").text


@pytest.mark.parametrize("ended", ["canceled", "deleted"])
def test_a_range_read_while_its_job_ended_leaves_no_part_behind(services, monkeypatch, ended):
    job = moved(services, stored_job(services, GOOD / "pdfminer_dmca.pdf"), JobStatus.PROCESSING)
    real = parts.sandboxed

    def meanwhile(*args, **kwargs):  # the job is canceled or erased while the range is read
        extraction = real(*args, **kwargs)
        moved(services, services.records.get(job.id, "public"), JobStatus(ended))
        return extraction

    monkeypatch.setattr(parts, "sandboxed", meanwhile)
    parts.run_part(services, job.source_key, "pdfminer", 1, 5, final_attempt=True)
    assert list(services.storage.list_keys(keys.parts_prefix("public", job.id))) == []


@pytest.mark.parametrize("stop", ["cancel", "erase"])
def test_a_range_on_another_worker_stops_at_its_next_tick_when_its_job_is_stopped(services, stop):
    # Eight pages of about a second each in the real sandbox; the job is canceled (or
    # DELETEd) once the first page is done. The range stops there: it does not read on.
    data = hostile.long_text(pages=8, lines=150, line_chars=60)
    job = moved(services, stored_bytes(services, data), JobStatus.PROCESSING)
    run = parts.run_id("pdfminer", job, services.settings)
    progress = keys.part_keys(parts.part_name(job.id, run, 1, 8))["progress"]

    def stop_after_the_first_page():
        deadline = time.monotonic() + 60
        while int(services.state.get(progress) or 0) < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        current = services.records.get(job.id, "public")
        getattr(services.lifecycle, stop)(current)

    stopper = threading.Thread(target=stop_after_the_first_page)
    stopper.start()
    parts.run_part(services, job.source_key, "pdfminer", 1, 8, final_attempt=True)
    stopper.join()
    assert int(services.state.get(progress) or 0) < 8
    assert list(services.storage.list_keys(keys.parts_prefix("public", job.id))) == []
    assert services.inflight.holder(parts.part_name(job.id, run, 1, 8)) is None


@pytest.mark.env(PARALLEL_MIN_PAGES="1", PART_PAGES="1")
def test_a_corrupt_part_fails_the_whole_job(services):
    job = stored_job(services, BAD / "truncated_tail_test_2861.pdf")
    assert pipeline.process(services, job.source_key) is JobStatus.FAILED
    error = services.records.get(job.id, "public").error
    assert error["code"] in ("corrupt", "no_pages", "unsupported")


@pytest.fixture
def part_tasks(services, monkeypatch) -> list[tuple]:
    """(first, last) of every extract_part task the coordinator enqueues, held (not run),
    with how many of the job's enqueued ranges were still unfinished at that moment."""
    put = []

    def held(name, *args, delay=None):
        assert name == "extract_part"
        put.append(tuple(args[2:]))
        return "held"

    monkeypatch.setattr(services.queue, "put", held)
    return put


@pytest.mark.env(DEFAULT_ENGINE="pdfium", PARALLEL_MIN_PAGES="2", PART_PAGES="20")
def test_a_lying_page_count_costs_one_page_not_fifty_thousand_parts(services, part_tasks):
    job = stored_bytes(services, hostile.lying_page_count(1_000_000))
    assert pipeline.process(services, job.source_key) is JobStatus.SUCCEEDED
    assert part_tasks == []
    done = services.records.get(job.id, "public")
    assert done.pages_total == done.pages_done == 1
    assert "Hello" in result_text(services, job)


@pytest.mark.env(PARALLEL_MIN_PAGES="2", PART_PAGES="1", MAX_PARTS_PER_JOB="5", PART_WINDOW="2")
def test_parts_are_capped_per_job_and_enqueued_a_window_at_a_time(services, monkeypatch):
    job = stored_job(services, GOOD / "pdfjs_tracemonkey.pdf")  # 14 pages: 5 ranges of 3
    put, done, open_at_put = [], [], []

    def held(name, source_key, engine, first, last, delay=None):
        put.append((first, last))
        open_at_put.append(len(set(put) - set(done)))  # enqueued, not yet extracted
        return "held"  # never run: the coordinator extracts every range itself

    extract_part = parts._extract_part

    def extracted(services, job, engine, first, last, path, tick, **kept):
        extract_part(services, job, engine, first, last, path, tick, **kept)
        done.append((first, last))

    monkeypatch.setattr(services.queue, "put", held)
    monkeypatch.setattr(parts, "_extract_part", extracted)
    assert pipeline.process(services, job.source_key) is JobStatus.SUCCEEDED
    assert len(done) == 5  # MAX_PARTS_PER_JOB, though PART_PAGES=1 would make 14
    assert put[:2] == [(4, 6), (7, 9)]  # the window, from the front
    assert max(open_at_put) <= 2  # PART_WINDOW: never more of the job's ranges queued
    assert len(set(put)) == len(put)
    assert result_text(services, job) == extract(GOOD / "pdfjs_tracemonkey.pdf").text


@pytest.mark.env(PARALLEL_MIN_PAGES="2", PART_PAGES="2", QUEUE_MAX_PENDING="10")
def test_no_part_is_enqueued_while_the_queue_is_half_full(services, part_tasks, monkeypatch):
    monkeypatch.setattr(services.queue, "pending", lambda: 5)
    job = stored_job(services, GOOD / "pdfjs_tracemonkey.pdf")
    assert pipeline.process(services, job.source_key) is JobStatus.SUCCEEDED
    assert part_tasks == []  # the job's own worker extracted every range
    assert result_text(services, job) == extract(GOOD / "pdfjs_tracemonkey.pdf").text


def test_a_range_grows_past_part_pages_to_keep_the_parts_under_their_cap():
    assert parts.part_size(14, 1, 5) == 3
    assert parts.part_size(1_000_000, 20, 64) == 15625
    assert parts.part_size(100, 20, 64) == 20


@pytest.mark.env(PARALLEL_MIN_PAGES="2", PART_PAGES="4", MAX_TEXT_BYTES="50000")
def test_text_over_its_limit_across_parts_fails_the_job_too_large(services):
    # About 83,000 bytes of text in ranges of 26,000 at most: each range passes, the job not.
    job = stored_job(services, GOOD / "pdfjs_tracemonkey.pdf")
    assert pipeline.process(services, job.source_key) is JobStatus.FAILED
    error = services.records.get(job.id, "public").error
    assert error["code"] == "too_large"
    assert "MAX_TEXT_BYTES" in error["message"]
    assert list(services.storage.list_keys(keys.RESULTS_PREFIX)) == []
    assert list(services.storage.list_keys(keys.PARTS_PREFIX)) == []


def test_each_range_ocrs_its_share_of_max_ocr_pages():
    # 3,000 pages in 64 ranges may OCR the job's 500 pages between them, not 64 x 500.
    ranges = parts.split(3000, parts.part_size(3000, 20, 64))
    shares = [parts.ocr_share(500, first, last, 3000) for first, last in ranges]
    assert sum(shares) <= 500 + len(ranges)
    # A job within the limit OCRs every range whole; no count known: the whole limit.
    assert all(
        parts.ocr_share(500, first, last, 400) >= last - first + 1
        for first, last in parts.split(400, 20)
    )
    assert parts.ocr_share(500, 1, 20, None) == 500
    assert parts.ocr_share(0, 1, 20, 400) == 0


@pytest.mark.env(PARALLEL_MIN_PAGES="2", PART_PAGES="2", PART_WINDOW="1")
def test_ranges_another_worker_finishes_make_room_for_the_next_tasks(services, monkeypatch):
    # Another worker takes each task as soon as it is enqueued. The coordinator works from the
    # back: it must see the front ranges done to enqueue more, or that worker sits idle.
    job = stored_job(services, GOOD / "pdfjs_tracemonkey.pdf")  # 14 pages: 7 ranges of 2
    taken = []

    def other_worker(name, source_key, engine, first, last, delay=None):
        parts.run_part(services, source_key, engine, first, last, final_attempt=True)
        taken.append((first, last))
        return "run"

    monkeypatch.setattr(services.queue, "put", other_worker)
    assert pipeline.process(services, job.source_key) is JobStatus.SUCCEEDED
    assert len(taken) >= 3, taken  # more than the first window's one range
    assert result_text(services, job) == extract(GOOD / "pdfjs_tracemonkey.pdf").text


@pytest.mark.env(PARALLEL_MIN_PAGES="2", PART_PAGES="2")
def test_the_coordinator_reads_the_range_no_task_was_queued_for_first(services, monkeypatch):
    # Only the job's own worker reads the first range; left for last, the job waited on it
    # alone while the workers that ran the queued ranges had nothing left to take.
    job = stored_job(services, GOOD / "pdfjs_tracemonkey.pdf")  # 14 pages: 7 ranges of 2
    monkeypatch.setattr(services.queue, "put", lambda *args, **kwargs: "held")
    order = []
    extract_part = parts._extract_part

    def extracted(services, job, engine, first, last, path, tick, **kept):
        order.append((first, last))
        return extract_part(services, job, engine, first, last, path, tick, **kept)

    monkeypatch.setattr(parts, "_extract_part", extracted)
    assert pipeline.process(services, job.source_key) is JobStatus.SUCCEEDED
    assert order[0] == (1, 2)
    assert order[1:] == [(13, 14), (11, 12), (9, 10), (7, 8), (5, 6), (3, 4)]  # from the back
    assert result_text(services, job) == extract(GOOD / "pdfjs_tracemonkey.pdf").text


def another_worker_takes_two(services, monkeypatch) -> list[tuple[int, int]]:
    """Another worker takes the job's first two part tasks as they are queued and extracts
    them at once; the ranges it took."""
    by_others = []

    def other_worker(name, source_key, engine, first, last, delay=None):
        if len(by_others) < 2:
            parts.run_part(services, source_key, engine, first, last, final_attempt=True)
            by_others.append((first, last))
        return "held"

    monkeypatch.setattr(services.queue, "put", other_worker)
    return by_others


@pytest.mark.env(PARALLEL_MIN_PAGES="2", PART_PAGES="2")
def test_the_merge_downloads_only_the_parts_other_workers_wrote(services, monkeypatch):
    job = stored_job(services, GOOD / "pdfjs_tracemonkey.pdf")  # 14 pages: 7 ranges of 2
    by_others, read = another_worker_takes_two(services, monkeypatch), []
    for name in ("download_to", "stream", "get_bytes"):  # every way an object is read
        real = getattr(services.storage, name)

        def counted(key, *args, real=real, **kwargs):
            read.append(key)
            return real(key, *args, **kwargs)

        monkeypatch.setattr(services.storage, name, counted)
    assert pipeline.process(services, job.source_key) is JobStatus.SUCCEEDED
    part_reads = [key for key in read if key.startswith(keys.parts_prefix(job.tenant, job.id))]
    assert len(by_others) == 2 and len(part_reads) == 2, (by_others, read)
    assert result_text(services, job) == extract(GOOD / "pdfjs_tracemonkey.pdf").text
    assert not list(services.storage.list_keys(keys.parts_prefix(job.tenant, job.id)))


@pytest.mark.env(PARALLEL_MIN_PAGES="2", PART_PAGES="2")
def test_ranges_other_workers_stored_are_downloaded_while_the_jobs_worker_extracts(
    services, monkeypatch
):
    # Downloaded at the merge, they kept the job waiting a round trip or two at its end.
    job = stored_job(services, GOOD / "pdfjs_tracemonkey.pdf")  # 14 pages: 7 ranges of 2
    another_worker_takes_two(services, monkeypatch)
    events = []
    download_to = services.storage.download_to

    def downloading(key, *args, **kwargs):
        if key.startswith(keys.parts_prefix(job.tenant, job.id)):
            events.append("part read")
        return download_to(key, *args, **kwargs)

    sandboxed = parts.sandboxed

    def extracting(*args, **kwargs):
        if kwargs.get("pages"):  # a range, not the count of the whole document
            events.append("range")
        return sandboxed(*args, **kwargs)

    monkeypatch.setattr(services.storage, "download_to", downloading)
    monkeypatch.setattr(parts, "sandboxed", extracting)
    assert pipeline.process(services, job.source_key) is JobStatus.SUCCEEDED
    by_the_jobs_worker = [i for i, event in enumerate(events) if event == "range"][2:]
    last = by_the_jobs_worker[-1]  # (the first two ranges are the other worker's)
    assert events[:last].count("part read") == 2, events
    assert result_text(services, job) == extract(GOOD / "pdfjs_tracemonkey.pdf").text


@pytest.mark.env(PARALLEL_MIN_PAGES="2", PART_PAGES="2")
def test_a_first_attempt_asks_storage_for_no_earlier_range(services, monkeypatch):
    job = stored_job(services, GOOD / "pdfjs_tracemonkey.pdf")
    monkeypatch.setattr(services.queue, "put", lambda *args, **kwargs: "held")
    heads = []
    head = services.storage.head
    monkeypatch.setattr(services.storage, "head", lambda key: heads.append(key) or head(key))
    assert pipeline.process(services, job.source_key) is JobStatus.SUCCEEDED
    assert not [key for key in heads if key.startswith(keys.parts_prefix("public", job.id))]


@pytest.mark.env(PARALLEL_MIN_PAGES="2", PART_PAGES="2")
def test_a_range_an_earlier_attempt_stored_is_not_extracted_again(services, monkeypatch):
    job = stored_job(services, GOOD / "pdfjs_tracemonkey.pdf")
    monkeypatch.setattr(services.queue, "put", lambda *args, **kwargs: "held")
    run = parts.run_id("pdfminer", services.records.get(job.id, "public"), services.settings)
    extracted = []
    sandboxed = parts.sandboxed

    def counted(services, job, path, engine, **run):
        extracted.append(run.get("pages"))
        return sandboxed(services, job, path, engine, **run)

    monkeypatch.setattr(parts, "sandboxed", counted)
    # An attempt that stored pages 3-4, then died; its done flag went with Redis.
    started = moved(services, job, JobStatus.PROCESSING)
    parts._extract_part(services, started, "pdfminer", 3, 4, _source(services, job), None)
    services.state.delete(keys.part_keys(parts.part_name(job.id, run, 3, 4))["done"])
    moved(services, job, JobStatus.QUEUED, attempts=[{"outcome": "worker_died"}])
    extracted.clear()
    assert pipeline.process(services, job.source_key) is JobStatus.SUCCEEDED
    ranges = [pages for pages in extracted if pages]  # None: the count of the whole document
    assert (3, 4) not in ranges and len(ranges) == 6
    assert result_text(services, job) == extract(GOOD / "pdfjs_tracemonkey.pdf").text


def _source(services, job) -> Path:
    target = Path(tempfile.mkdtemp()) / "source.pdf"
    target.write_bytes(services.storage.get_bytes(job.source_key))
    return target


@pytest.mark.env(PARALLEL_MIN_PAGES="2", PART_PAGES="5")
def test_the_jobs_worker_reads_its_next_range_while_the_last_one_uploads(services, monkeypatch):
    job = stored_job(services, GOOD / "pdfjs_tracemonkey.pdf")  # 14 pages: 3 ranges
    monkeypatch.setattr(services.queue, "put", lambda *args, **kwargs: "held")
    started, overlapped = [], []
    sandboxed = parts.sandboxed

    def extracting(*args, **kwargs):
        if kwargs.get("pages"):  # a range, not the count of the whole document
            started.append(kwargs["pages"])
        return sandboxed(*args, **kwargs)

    upload_file = services.storage.upload_file

    def uploading(key, *args, **kwargs):
        if key.startswith(keys.parts_prefix("public", job.id)) and len(overlapped) < 2:
            uploaded = len(overlapped)
            deadline = time.monotonic() + 5
            while len(started) < uploaded + 2 and time.monotonic() < deadline:
                time.sleep(0.01)  # the next range starts while this one is uploading
            overlapped.append(len(started) >= uploaded + 2)
        return upload_file(key, *args, **kwargs)

    monkeypatch.setattr(parts, "sandboxed", extracting)
    monkeypatch.setattr(services.storage, "upload_file", uploading)
    assert pipeline.process(services, job.source_key) is JobStatus.SUCCEEDED
    assert overlapped == [True, True]
    assert result_text(services, job) == extract(GOOD / "pdfjs_tracemonkey.pdf").text
