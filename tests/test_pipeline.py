import datetime as dt

import pytest

from consumer import pipeline, tasks
from core import keys, services
from core.errors import StorageUnavailable
from core.jobs import JobStatus, parse_time
from core.queue import huey
from tests.corpus import BAD, GOOD


@pytest.fixture
def store(s3):
    return services.jobs()


def stored_job(store, path, tenant="public"):
    job_id = keys.new_job_id()
    store.storage.put_bytes(keys.source_key(tenant, job_id), path.read_bytes())
    return store.create(job_id=job_id, tenant=tenant, filename=path.name, size=path.stat().st_size)


def test_a_job_writes_text_pages_and_result(store):
    job = stored_job(store, GOOD / "pdfminer_pagelabels.pdf")
    assert pipeline.process(job.source_key) is JobStatus.SUCCEEDED
    storage = store.storage
    text = storage.get_bytes(keys.result_key("public", job.id, "text.txt")).decode()
    pages = storage.get_bytes(keys.result_key("public", job.id, "pages.jsonl")).splitlines()
    result, _ = storage.get_json(keys.result_key("public", job.id, "result.json"))
    assert len(pages) == result["page_count"] == 5
    assert result["chars"] == len(text)
    assert set(result) >= {"metadata", "engine", "engine_version", "warnings"}
    job = store.get(job.id, "public")
    assert job.result["seconds"].keys() == {"download", "extract", "upload"}


def test_running_a_job_twice_writes_the_same_objects(store):
    job = stored_job(store, GOOD / "pdfminer_dmca.pdf")
    pipeline.process(job.source_key)
    first = store.storage.get_bytes(keys.result_key("public", job.id, "pages.jsonl"))
    store.transition(store.get(job.id, "public"), JobStatus.QUEUED)
    pipeline.process(job.source_key)
    assert store.storage.get_bytes(keys.result_key("public", job.id, "pages.jsonl")) == first


def test_a_duplicate_task_for_a_finished_job_is_skipped(store):
    job = stored_job(store, GOOD / "pdfminer_jo.pdf")
    pipeline.process(job.source_key)
    assert pipeline.process(job.source_key) is None
    assert len(store.get(job.id, "public").attempts) == 1


def test_terminal_errors_fail_at_once_without_raising(store):
    job = stored_job(store, BAD / "truncated_tail_test_2861.pdf")
    assert pipeline.process(job.source_key, final_attempt=False) is JobStatus.FAILED
    assert store.get(job.id, "public").error["code"] == "corrupt"


def test_a_source_that_is_not_a_pdf_fails_with_not_a_pdf(store):
    # Presigned uploads reach storage without the web's checks: the worker checks again.
    job = stored_job(store, BAD / "png_renamed.pdf")
    pipeline.process(job.source_key)
    assert store.get(job.id, "public").error["code"] == "not_a_pdf"


def test_a_source_over_the_limit_fails_with_too_large(store, setenv):
    job = stored_job(store, GOOD / "pdfminer_jo.pdf")
    setenv(MAX_UPLOAD_BYTES="100")
    pipeline.process(job.source_key)
    assert services.jobs().get(job.id, "public").error["code"] == "too_large"


def test_a_missing_source_fails_with_source_missing(store):
    job = store.create(job_id=keys.new_job_id(), tenant="public", filename="gone.pdf", size=1)
    pipeline.process(job.source_key)
    assert store.get(job.id, "public").error["code"] == "source_missing"


def test_a_task_without_a_record_is_dropped(store):
    assert pipeline.process(keys.source_key("public", keys.new_job_id())) is None


def test_storage_outage_is_retried_with_delay_then_succeeds(store, monkeypatch):
    job = stored_job(store, GOOD / "pdfminer_jo.pdf")
    real_download = store.storage.download_to

    def down(*args, **kwargs):
        raise StorageUnavailable()

    monkeypatch.setattr(store.storage, "download_to", down)
    before = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    tasks.extract_document(job.source_key)  # immediate mode: runs now, fails, is rescheduled

    waiting = store.get(job.id, "public")
    assert waiting.status is JobStatus.SCHEDULED
    assert waiting.error["code"] == "storage_unavailable"
    assert waiting.attempts[-1]["outcome"] == "storage_unavailable"
    [retry] = huey.scheduled()
    delay = (retry.eta - before).total_seconds()
    assert tasks.extract_document.retry_delay - 1 <= delay <= tasks.extract_document.retry_delay + 5
    promised = parse_time(waiting.scheduled_for).replace(tzinfo=None) - retry.eta
    assert abs(promised.total_seconds()) < 2  # the record tells when the retry runs
    assert retry.retries == tasks.extract_document.retries - 1

    monkeypatch.setattr(store.storage, "download_to", real_download)
    huey.execute(retry, timestamp=retry.eta)  # the retry, once due
    done = store.get(job.id, "public")
    assert done.status is JobStatus.SUCCEEDED
    assert [a["outcome"] for a in done.attempts] == ["storage_unavailable", "succeeded"]


def test_the_last_retry_of_an_outage_fails_the_job(store, monkeypatch):
    job = stored_job(store, GOOD / "pdfminer_jo.pdf")

    def down(*args, **kwargs):
        raise StorageUnavailable()

    monkeypatch.setattr(store.storage, "download_to", down)
    assert pipeline.process(job.source_key, final_attempt=True) is JobStatus.FAILED
    assert store.get(job.id, "public").error["code"] == "storage_unavailable"


def test_retry_settings_come_from_the_environment():
    from core.settings import get_settings

    settings = get_settings()
    task = tasks.extract_document.task_class
    assert task.default_retries == settings.task_retries
    assert task.default_retry_delay == settings.task_retry_delay
    assert task.default_retry_backoff == settings.task_retry_backoff
