"""One job from its source to stored results (consumer/pipeline.py), in this process."""

import datetime as dt

import pytest

from consumer import pipeline
from core import keys
from core.adapters.queue import EXTRACT_DOCUMENT
from core.clock import parse_time
from core.errors import StorageUnavailable
from core.jobs import results
from core.jobs.model import JobStatus
from tests.support import hostile
from tests.support.corpus import BAD, GOOD
from tests.support.jobs import (
    moved,
    recorded_job,
    result_pages,
    result_text,
    stored_bytes,
    stored_job,
)


def test_a_job_writes_one_result_object_its_record_names(services):
    job = stored_job(services, GOOD / "pdfminer_pagelabels.pdf")
    assert pipeline.process(services, job.source_key) is JobStatus.SUCCEEDED
    stored = list(services.storage.list_keys(keys.results_prefix("public", job.id)))
    job = services.records.get(job.id, "public")
    assert stored == [job.result["key"]]
    summary, pages = results.read(services.storage, job.result["key"])
    assert len(pages) == summary["page_count"] == job.result["page_count"] == 5
    assert summary["chars"] == len(result_text(services, job)) == job.result["chars"]
    assert set(summary) >= {"metadata", "engine", "engine_version", "warnings", "outline"}
    assert job.result["seconds"].keys() == {"download", "extract", "upload"}


def test_a_run_that_ends_its_job_does_not_read_its_lease_again(services, monkeypatch):
    job = stored_job(services, GOOD / "pdfminer_pagelabels.pdf")
    read = []
    get = services.state.get
    monkeypatch.setattr(services.state, "get", lambda key: read.append(key) or get(key))
    assert pipeline.process(services, job.source_key) is JobStatus.SUCCEEDED
    assert keys.lease_key(job.id) not in read  # the end deleted it: no round trip to ask
    assert services.state.get(keys.lease_key(job.id)) is None


def test_running_a_job_twice_gives_the_same_result_and_keeps_one_object(services):
    job = stored_job(services, GOOD / "pdfminer_dmca.pdf")
    pipeline.process(services, job.source_key)
    first = result_pages(services, job)
    moved(services, services.records.get(job.id, "public"), JobStatus.QUEUED)
    pipeline.process(services, job.source_key)
    assert result_pages(services, job) == first
    stored = list(services.storage.list_keys(keys.results_prefix("public", job.id)))
    assert stored == [services.records.get(job.id, "public").result["key"]]


def test_a_duplicate_task_for_a_finished_job_is_skipped(services):
    job = stored_job(services, GOOD / "pdfminer_jo.pdf")
    pipeline.process(services, job.source_key)
    assert pipeline.process(services, job.source_key) is None
    assert len(services.records.get(job.id, "public").attempts) == 1


def test_terminal_errors_fail_at_once_without_raising(services):
    job = stored_job(services, BAD / "truncated_tail_test_2861.pdf")
    assert pipeline.process(services, job.source_key, final_attempt=False) is JobStatus.FAILED
    assert services.records.get(job.id, "public").error["code"] == "corrupt"


def test_a_source_that_is_not_a_pdf_fails_with_not_a_pdf(services):
    # Presigned uploads reach storage without the web's checks: the worker checks again.
    job = stored_job(services, BAD / "png_renamed.pdf")
    pipeline.process(services, job.source_key)
    assert services.records.get(job.id, "public").error["code"] == "not_a_pdf"


def test_a_source_over_the_limit_fails_with_too_large(services, configure):
    job = stored_job(services, GOOD / "pdfminer_jo.pdf")
    services = configure(MAX_UPLOAD_BYTES="100")
    pipeline.process(services, job.source_key)
    assert services.records.get(job.id, "public").error["code"] == "too_large"


@pytest.mark.parametrize("engine", ["pdfminer", "pdfium"])
def test_a_document_over_max_pages_fails_the_job_too_many_pages(services, configure, engine):
    job = stored_bytes(services, hostile.long_text(pages=6, lines=1), engine=engine)
    services = configure(MAX_PAGES="5", PARALLEL_MIN_PAGES="2", PART_PAGES="1")
    assert pipeline.process(services, job.source_key) is JobStatus.FAILED
    job = services.records.get(job.id, "public")
    assert job.error["code"] == "too_many_pages" and "MAX_PAGES" in job.error["message"]
    assert not list(services.storage.list_keys(keys.results_prefix("public", job.id)))


@pytest.mark.parametrize("engine", ["pdfminer", "pdfium", "ocr"])
def test_a_kilobyte_that_claims_a_million_pages_is_one_page_with_default_settings(services, engine):
    # Each page-tree node lists the next ten times and the leaf has no /Type: 10**6 pages to
    # PDFium, none to pdfminer. One job, one page (OCRed where no text layer is read).
    data = hostile.repeated_page_tree(levels=6, repeat=10, typed_leaf=False)
    job = stored_bytes(services, data, engine=engine)
    assert pipeline.process(services, job.source_key) is JobStatus.SUCCEEDED
    done = services.records.get(job.id, "public")
    assert done.pages_total == done.pages_done == 1
    assert len(result_pages(services, done)) == 1


def test_a_missing_source_fails_with_source_missing(services):
    job = recorded_job(services, filename="gone.pdf")
    pipeline.process(services, job.source_key)
    assert services.records.get(job.id, "public").error["code"] == "source_missing"


def test_a_task_without_a_record_is_dropped(services):
    assert pipeline.process(services, keys.source_key("public", keys.new_job_id())) is None


def test_storage_outage_is_retried_with_delay_then_succeeds(services, monkeypatch):
    job = stored_job(services, GOOD / "pdfminer_jo.pdf")
    storage, huey = services.storage, services.huey
    real_download = storage.download_to

    def down(*args, **kwargs):
        raise StorageUnavailable()

    monkeypatch.setattr(storage, "download_to", down)
    before = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    task = services.queue.task(EXTRACT_DOCUMENT, job.source_key)
    retry_delay, retries = task.retry_delay, task.retries  # Huey changes the task it retries
    services.queue.enqueue(task)  # immediate mode: runs now, fails, is rescheduled

    waiting = services.records.get(job.id, "public")
    assert waiting.status is JobStatus.SCHEDULED
    assert waiting.error["code"] == "storage_unavailable"
    assert waiting.attempts[-1]["outcome"] == "storage_unavailable"
    [retry] = huey.scheduled()
    delay = (retry.eta - before).total_seconds()
    assert retry_delay - 1 <= delay <= retry_delay + 5
    promised = parse_time(waiting.scheduled_for).replace(tzinfo=None) - retry.eta
    assert abs(promised.total_seconds()) < 2  # the record tells when the retry runs
    assert retry.retries == retries - 1

    monkeypatch.setattr(storage, "download_to", real_download)
    huey.execute(retry, timestamp=retry.eta)  # the retry, once due
    done = services.records.get(job.id, "public")
    assert done.status is JobStatus.SUCCEEDED
    assert [a["outcome"] for a in done.attempts] == ["storage_unavailable", "succeeded"]


def test_the_last_retry_of_an_outage_fails_the_job(services, monkeypatch):
    job = stored_job(services, GOOD / "pdfminer_jo.pdf")

    def down(*args, **kwargs):
        raise StorageUnavailable()

    monkeypatch.setattr(services.storage, "download_to", down)
    assert pipeline.process(services, job.source_key, final_attempt=True) is JobStatus.FAILED
    assert services.records.get(job.id, "public").error["code"] == "storage_unavailable"


def test_a_last_retry_whose_failure_cannot_be_written_hands_the_job_back(services, monkeypatch):
    job = stored_job(services, GOOD / "pdfminer_jo.pdf")

    def down(*args, **kwargs):
        raise StorageUnavailable()

    monkeypatch.setattr(services.storage, "download_to", down)
    monkeypatch.setattr(services.storage, "put_json", down)  # the record cannot be written
    assert pipeline.process(services, job.source_key, final_attempt=True) is None
    back = services.records.get(job.id, "public")
    assert back.status is JobStatus.QUEUED  # for recovery to run again, not failed
    assert [a["outcome"] for a in back.attempts] == ["storage_unavailable"]
    assert services.inflight.outage(job.id) == "storage_unavailable"  # not a worker death


@pytest.mark.env(TASK_RETRIES="7", TASK_RETRY_DELAY="12", TASK_RETRY_BACKOFF="3")
def test_retry_settings_come_from_the_environment(services):
    task = services.queue.task(EXTRACT_DOCUMENT, "sources/public/x.pdf")
    assert (task.retries, task.retry_delay) == (7, 12)
    assert task.retry_backoff == 3
