"""The worker checks every source again (core/jobs/pdfcheck.py, from consumer/pipeline.py):
size before and while it downloads, then the magic bytes, failing for good with a stable code
and no Huey retry.

moto keeps whatever a presigned POST sends, whatever its policy says, and the upload URL
stays valid until it expires, so a client can replace its object after /complete checked it:
the tests below do exactly that through the real presigned POST.
"""

import pytest

from consumer import parts, pipeline
from core.adapters.queue import EXTRACT_DOCUMENT
from core.jobs import pdfcheck
from core.jobs.model import JobStatus
from tests.support.api import complete, post_to_storage, presign
from tests.support.corpus import BAD, GOOD
from tests.support.jobs import stored_bytes
from tests.support.requests_count import counted

JO = GOOD / "pdfminer_jo.pdf"


@pytest.fixture
def no_sandbox(monkeypatch):
    """Fails the test if extraction starts: the checks must stop the job before it."""

    def refuse(*args, **kwargs):
        raise AssertionError("extraction started on a source that failed its checks")

    monkeypatch.setattr(parts, "extract", refuse)


@pytest.mark.env(MAX_UPLOAD_BYTES="1000")
def test_a_source_over_the_limit_fails_too_large_before_any_download(services, monkeypatch):
    job = stored_bytes(services, b"%PDF-1.4\n" + b"x" * 5000)
    written = []
    monkeypatch.setattr(pdfcheck._Bounded, "write", lambda self, chunk: written.append(chunk))
    assert pipeline.process(services, job.source_key, final_attempt=False) is JobStatus.FAILED
    assert services.records.get(job.id, "public").error["code"] == "too_large"
    assert written == []  # the GET's size said too large: not one byte of the body was read


def test_the_download_makes_one_request_with_its_size_check(services, no_sandbox, monkeypatch):
    job = stored_bytes(services, (GOOD / "pdfminer_jo.pdf").read_bytes())
    path = services.settings.data_dir / "download.pdf"
    path.parent.mkdir(parents=True, exist_ok=True)
    with counted(services, monkeypatch) as calls:
        pdfcheck.download_checked(services.storage, job.source_key, path, 10**8)
    assert calls == {"GetObject": 1}


@pytest.mark.env(MAX_UPLOAD_BYTES="1000")
def test_a_source_larger_than_storage_reported_stops_downloading_at_the_limit(
    services, monkeypatch, no_sandbox
):
    job = stored_bytes(services, b"%PDF-1.4\n" + b"x" * 5000)
    http = services.storage.http
    real = http.get

    def lying(key, **kwargs):
        # Replaced since, or a store that reports sizes wrongly.
        response = real(key, **kwargs)
        response.headers["content-length"] = "10"
        return response

    monkeypatch.setattr(http, "get", lying)
    assert pipeline.process(services, job.source_key, final_attempt=False) is JobStatus.FAILED
    assert services.records.get(job.id, "public").error["code"] == "too_large"


@pytest.mark.parametrize(
    ("data", "code"),
    [(b"", "empty_file"), ((BAD / "png_renamed.pdf").read_bytes(), "not_a_pdf")],
)
def test_an_empty_or_non_pdf_source_fails_before_the_sandbox(services, no_sandbox, data, code):
    job = stored_bytes(services, data)
    assert pipeline.process(services, job.source_key, final_attempt=False) is JobStatus.FAILED
    assert services.records.get(job.id, "public").error["code"] == code


def test_a_failed_check_is_permanent_so_huey_does_not_retry_it(services):
    job = stored_bytes(services, b"not a pdf at all")
    # Immediate Huey: the task itself, with its retries, runs inside enqueue.
    services.queue.enqueue(services.queue.task(EXTRACT_DOCUMENT, job.source_key))
    failed = services.records.get(job.id, "public")
    assert (failed.status, failed.error["code"]) == (JobStatus.FAILED, "not_a_pdf")
    assert [a["outcome"] for a in failed.attempts] == ["not_a_pdf"]
    huey = services.huey
    assert huey.scheduled() == [] and huey.pending_count() == 0


@pytest.mark.env(MAX_UPLOAD_BYTES="10000")
@pytest.mark.parametrize(
    ("swapped", "code"),
    [
        # Only the completed version is downloaded (If-Match on its ETag): whatever replaced
        # it, oversized included, is never read.
        (b"", "source_missing"),
        ((BAD / "text_renamed.pdf").read_bytes(), "source_missing"),
        (JO.read_bytes() + b"\n%", "source_missing"),
        (b"%PDF-1.4\n" + b"x" * 20_000, "source_missing"),
    ],
)
def test_an_object_replaced_after_complete_is_caught_by_the_worker(
    client, services, held, swapped, code
):
    job = presign(client, filename="jo.pdf")
    assert post_to_storage(job, JO.read_bytes()).status_code == 204
    assert complete(client, job).status_code == 202  # the web's checks pass on the real PDF
    # The same presigned POST, still valid, sends other bytes (real S3 refuses only the
    # empty and oversized ones, through the policy; moto takes all three).
    assert post_to_storage(job, swapped).status_code == 204

    [(queued, _)] = held
    assert pipeline.process(services, queued.source_key, final_attempt=False) is JobStatus.FAILED
    failed = client.get(f"/api/v1/pdf/jobs/{job['id']}").get_json()
    assert (failed["status"], failed["error"]["code"]) == ("failed", code)
