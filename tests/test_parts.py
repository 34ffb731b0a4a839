"""Page-parallel extraction (consumer/parts.py): a long document split into page ranges,
extracted part by part and merged into exactly the single-pass result; a part whose worker
died is extracted again, and a part that cannot be read fails the whole job."""

import pytest

from consumer import parts, pipeline
from core import keys
from core.jobs.model import JobStatus
from engines.pdfminer_engine import extract
from tests.support.corpus import BAD, GOOD, NONDETERMINISTIC
from tests.support.jobs import result_pages, result_text, stored_job


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
    run = parts.run_id("pdfminer", job)
    # A worker took pages 6-10 and died: its lease runs out, and no one else may take it first.
    assert services.inflight.acquire(parts.part_name(job.id, run, 6, 10), "ghost:1:MainThread")
    assert pipeline.process(services, job.source_key) is JobStatus.SUCCEEDED
    assert result_text(services, job) == extract(GOOD / "pdfminer_dmca.pdf").text


@pytest.mark.env(PARALLEL_MIN_PAGES="1", PART_PAGES="1")
def test_a_corrupt_part_fails_the_whole_job(services):
    job = stored_job(services, BAD / "truncated_tail_test_2861.pdf")
    assert pipeline.process(services, job.source_key) is JobStatus.FAILED
    error = services.records.get(job.id, "public").error
    assert error["code"] in ("corrupt", "no_pages", "unsupported")
