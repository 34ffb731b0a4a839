"""The worker re-validates every source (consumer/source.py): size before and while it
downloads, then the magic bytes, failing for good with a stable code and no Huey retry.

moto keeps whatever a presigned POST sends, whatever its policy says, and the upload URL
stays valid until it expires, so a client can replace its object after /complete checked it:
the tests below do exactly that through the real presigned POST.
"""

import pytest

from consumer import parallel, pipeline, tasks
from core import keys, services
from core.jobs import JobStatus
from core.queue import huey
from tests.corpus import BAD, GOOD
from tests.test_presign import complete, post_to_storage, presign

JO = GOOD / "pdfminer_jo.pdf"


@pytest.fixture
def store(s3):
    return services.jobs()


def stored_job(store, data: bytes):
    job_id = keys.new_job_id()
    store.storage.put_bytes(keys.source_key("public", job_id), data)
    return store.create(job_id=job_id, tenant="public", filename="x.pdf", size=len(data))


@pytest.fixture
def no_sandbox(monkeypatch):
    """Fails the test if extraction starts: the checks must stop the job before it."""

    def refuse(*args, **kwargs):
        raise AssertionError("extraction started on a source that failed its checks")

    monkeypatch.setattr(parallel, "extract", refuse)


def test_a_source_over_the_limit_fails_too_large_before_any_download(store, setenv, monkeypatch):
    setenv(MAX_UPLOAD_BYTES="1000")
    store = services.jobs()
    job = stored_job(store, b"%PDF-1.4\n" + b"x" * 5000)
    downloads = []
    monkeypatch.setattr(store.storage, "download_to", lambda *a: downloads.append(a))
    assert pipeline.process(job.source_key, final_attempt=False) is JobStatus.FAILED
    assert store.get(job.id, "public").error["code"] == "too_large"
    assert downloads == []  # HEAD said too large: not one byte was fetched


def test_a_source_larger_than_storage_reported_stops_downloading_at_the_limit(
    store, setenv, monkeypatch, no_sandbox
):
    setenv(MAX_UPLOAD_BYTES="1000")
    store = services.jobs()
    job = stored_job(store, b"%PDF-1.4\n" + b"x" * 5000)
    real_head = store.storage.head
    # Replaced between HEAD and GET, or a store that reports sizes wrongly.
    monkeypatch.setattr(store.storage, "head", lambda key: {**real_head(key), "ContentLength": 10})
    assert pipeline.process(job.source_key, final_attempt=False) is JobStatus.FAILED
    assert store.get(job.id, "public").error["code"] == "too_large"


@pytest.mark.parametrize(
    ("data", "code"),
    [(b"", "empty_file"), ((BAD / "png_renamed.pdf").read_bytes(), "not_a_pdf")],
)
def test_an_empty_or_non_pdf_source_fails_before_the_sandbox(store, no_sandbox, data, code):
    job = stored_job(store, data)
    assert pipeline.process(job.source_key, final_attempt=False) is JobStatus.FAILED
    assert store.get(job.id, "public").error["code"] == code


def test_a_failed_check_is_permanent_so_huey_does_not_retry_it(store):
    job = stored_job(store, b"not a pdf at all")
    tasks.extract_document(job.source_key)  # immediate Huey: the task itself, with retries
    failed = store.get(job.id, "public")
    assert (failed.status, failed.error["code"]) == (JobStatus.FAILED, "not_a_pdf")
    assert [a["outcome"] for a in failed.attempts] == ["not_a_pdf"]
    assert huey.scheduled() == [] and huey.pending_count() == 0


@pytest.fixture
def held(monkeypatch):
    """/complete queues the job but the task waits: the client gets a window to swap bytes."""
    queued = []
    monkeypatch.setattr(tasks, "enqueue_job", lambda job, eta=None: queued.append(job))
    return queued


@pytest.mark.parametrize(
    ("swapped", "code"),
    [
        (b"", "empty_file"),
        ((BAD / "text_renamed.pdf").read_bytes(), "not_a_pdf"),
        (b"%PDF-1.4\n" + b"x" * 20_000, "too_large"),
    ],
)
def test_an_object_replaced_after_complete_is_caught_by_the_worker(
    client, s3, setenv, held, swapped, code
):
    setenv(MAX_UPLOAD_BYTES="10000")
    job = presign(client, filename="jo.pdf")
    assert post_to_storage(job, JO.read_bytes()).status_code == 204
    assert complete(client, job).status_code == 202  # the web's checks pass on the real PDF
    # The same presigned POST, still valid, sends other bytes (real S3 refuses only the
    # empty and oversized ones, through the policy; moto takes all three).
    assert post_to_storage(job, swapped).status_code == 204

    [queued] = held
    assert pipeline.process(queued.source_key, final_attempt=False) is JobStatus.FAILED
    failed = client.get(f"/api/v1/pdf/jobs/{job['id']}").get_json()
    assert (failed["status"], failed["error"]["code"]) == ("failed", code)
