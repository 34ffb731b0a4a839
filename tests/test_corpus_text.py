"""The text promise, over the whole corpus: every good file, run as the worker runs it (the
default engine in the sandbox, text blocks and outline included, OCR as this machine
resolves it) and again in page ranges (as page-parallel parts run them), gives on every
page exactly the text `pdfminer.high_level.extract_text` gives.

A page OCR read is compared only in that pdfminer found no text there. For the files in
NONDETERMINISTIC pdfminer itself orders some text boxes differently from run to run (it
breaks ties by id()), so their pages are compared as multisets of lines. Structure never
costs text, and on these files it never fails either: no page carries a structure warning.
"""

import collections
import concurrent.futures

import pytest
from pdfminer.high_level import extract_text

from consumer import pipeline
from core.jobs.model import JobStatus
from engines.base import STRUCTURE_WARNINGS
from tests.support.corpus import GOOD, NONDETERMINISTIC, manifest
from tests.support.jobs import result_pages, stored_job

FILES = {row["file"]: int(row["pages"]) for row in manifest(GOOD)}
STRUCTURE = {"outputs": ["blocks", "markdown"]}
# pdfminer's own pass and the ranged job run beside the whole job: three processes' worth of
# work (this one and two sandbox children) that keeps every core of the machine busy.
_beside = concurrent.futures.ThreadPoolExecutor(2)


def pdfminer_pages(name: str) -> list[str]:
    """extract_text's pages: it ends every page with a form feed."""
    return extract_text(GOOD / name).split("\f")[:-1]


def same_text(name: str, got: str, want: str) -> bool:
    if name in NONDETERMINISTIC:
        return collections.Counter(got.splitlines()) == collections.Counter(want.splitlines())
    return got == want


def run_job(services, name: str) -> list[dict]:
    job = stored_job(services, GOOD / name, options=STRUCTURE)
    assert pipeline.process(services, job.source_key) is JobStatus.SUCCEEDED
    return result_pages(services, job)


def assert_pages_match(name: str, pages: list[dict], want: list[str]):
    assert [page["page"] for page in pages] == list(range(1, len(want) + 1)), name
    for page, text in zip(pages, want, strict=True):
        number = page["page"]
        assert not set(page.get("warnings", [])) & set(STRUCTURE_WARNINGS), (name, number, page)
        if page["ocr"]:
            assert not text.strip(), f"{name} p. {number}: OCRed, yet pdfminer found text"
        else:
            assert same_text(name, page["text"], text), f"{name} p. {number} differs"


@pytest.mark.env(PARALLEL_MIN_PAGES="0")
@pytest.mark.parametrize("name", sorted(FILES))
def test_every_page_of_every_good_file_is_pdfminers_text(services, configure, name):
    whole = services
    reference = _beside.submit(pdfminer_pages, name)
    ranged = None
    if FILES[name] > 1:  # again in ranges, as page-parallel parts extract them: three or so
        size = str(max(1, FILES[name] // 3))
        in_ranges = configure(PARALLEL_MIN_PAGES="1", PART_PAGES=size, PART_WINDOW="0")
        ranged = _beside.submit(run_job, in_ranges, name)
    pages = run_job(whole, name)
    want = reference.result()
    assert len(want) == FILES[name]
    assert_pages_match(name, pages, want)
    if ranged is not None:
        assert_pages_match(name, ranged.result(), want)
