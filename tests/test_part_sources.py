"""The sources part workers keep between ranges (consumer/part_sources.py): gone as soon as
their job is known to have stopped, and after a while unused, never while in use."""

import pytest

from consumer import part_sources, parts
from core.jobs.model import JobStatus
from tests.support.corpus import GOOD
from tests.support.jobs import moved, stored_job


def kept_copies() -> list:
    return [kept.folder for kept in part_sources._kept.values() if kept.folder.exists()]


@pytest.fixture(autouse=True)
def none_kept():
    part_sources._forget_all()
    yield
    part_sources._forget_all()


@pytest.mark.parametrize("stop", ["cancel", "erase"])
def test_a_stopped_jobs_pdf_leaves_the_part_workers_disk_at_its_next_part_task(services, stop):
    # A range done, the source kept for the next one; the job is then stopped. The next
    # task of the job that this worker sees removes the copy, whichever range it names.
    job = moved(services, stored_job(services, GOOD / "pdfminer_dmca.pdf"), JobStatus.PROCESSING)
    parts.run_part(services, job.source_key, "pdfminer", 1, 5, final_attempt=True)
    assert len(kept_copies()) == 1
    getattr(services.lifecycle, stop)(services.records.get(job.id, "public"))
    parts.run_part(services, job.source_key, "pdfminer", 6, 10, final_attempt=True)
    assert kept_copies() == []


def test_a_copy_unused_for_a_while_is_removed_and_one_in_use_never(services):
    job = moved(services, stored_job(services, GOOD / "pdfminer_jo.pdf"), JobStatus.PROCESSING)
    with part_sources.held(services, job.source_key, job.source_etag) as path:
        assert part_sources.sweep(idle=0) == 0  # in use
        assert path.exists()
    assert part_sources.sweep(idle=3600) == 0  # used a moment ago
    assert part_sources.sweep(idle=0) == 1
    assert not path.exists() and kept_copies() == []


def test_a_copy_is_downloaded_once_for_the_ranges_of_one_job(services, monkeypatch):
    job = moved(services, stored_job(services, GOOD / "pdfminer_jo.pdf"), JobStatus.PROCESSING)
    calls = []
    real = part_sources.pdfcheck.download_checked
    monkeypatch.setattr(
        part_sources.pdfcheck,
        "download_checked",
        lambda *args, **kwargs: calls.append(args[1]) or real(*args, **kwargs),
    )
    for _ in range(3):
        with part_sources.held(services, job.source_key, job.source_etag) as path:
            assert path.read_bytes()[:5] == b"%PDF-"
    assert len(calls) == 1
