"""The sandbox (consumer/sandbox.py): the page count and every output are bounded in the
child; the worker gets the pages as a file it reads one page at a time; OCR has caps of its
own (more time per OCR page, its own memory cap)."""

import shutil
import time

import pytest

from consumer import sandbox
from consumer.sandbox_child import cap_metadata, cap_outline
from core.errors import ExtractionTimeout, MemoryLimit, TooLarge, TooManyPages
from core.jobs import options
from core.settings import load_settings
from engines.base import PageFile
from engines.pdfminer_engine import extract as pdfminer_extract
from tests.support import hostile
from tests.support.corpus import BAD, GOOD

LIMITS = {"timeout": 120, "memory_mb": 1024}
SCAN = BAD / "pymupdf_test_4034.pdf"  # an office scanner's 2 pages, no text layer
AUTO = options.for_engine({}, "pdfminer", load_settings({}, dotenv=False))


@pytest.mark.parametrize("engine", ["pdfminer", "pdfium"])
def test_the_child_counts_only_the_pages_the_tree_really_holds(tmp_path, engine):
    path = tmp_path / "lying.pdf"
    path.write_bytes(hostile.lying_page_count(1_000_000))
    counts = []
    result = sandbox.extract(
        path, engine=engine, on_count=lambda n: counts.append(n) or True, **LIMITS
    )
    assert counts == [1]
    assert [page.number for page in result.pages] == [1]


def test_metadata_values_are_cut_in_the_child_with_a_warning(tmp_path):
    path = tmp_path / "meta.pdf"
    path.write_bytes(hostile.short_metadata("T" * 300, "A" * 300))
    caps = sandbox.Caps(metadata_value_chars=100, metadata_chars=150, text_bytes=2**20)
    result = sandbox.extract(path, engine="pdfminer", caps=caps, **LIMITS)
    assert result.metadata == {"title": "T" * 100}  # the author would pass the total
    assert "metadata_truncated" in result.warnings


def test_metadata_within_the_caps_is_kept_whole_without_a_warning(tmp_path):
    path = tmp_path / "meta.pdf"
    path.write_bytes(hostile.short_metadata("Title", "Author"))
    result = sandbox.extract(path, engine="pdfminer", **LIMITS)
    assert result.metadata == {"title": "Title", "author": "Author"}
    assert "metadata_truncated" not in result.warnings


def test_text_over_its_limit_fails_too_large_in_the_child(tmp_path):
    path = tmp_path / "long.pdf"
    path.write_bytes(hostile.long_text(pages=2, lines=20))  # 4,000 characters
    caps = sandbox.Caps(text_bytes=3000)
    with pytest.raises(TooLarge) as info:
        sandbox.extract(path, engine="pdfium", caps=caps, **LIMITS)
    assert info.value.code == "too_large"
    assert "MAX_TEXT_BYTES" in info.value.message
    ok = sandbox.extract(path, engine="pdfium", caps=sandbox.Caps(text_bytes=5000), **LIMITS)
    assert sum(page.text.count("x") for page in ok.pages) == 4000


def test_pages_come_back_as_a_file_read_page_by_page(tmp_path):
    path = tmp_path / "doc.pdf"
    path.write_bytes((GOOD / "pdfjs_tracemonkey.pdf").read_bytes())
    result = sandbox.extract(path, engine="pdfminer", **LIMITS)
    assert isinstance(result.pages, PageFile)
    assert len(result.pages) == 14
    assert result.text == pdfminer_extract(path).text
    assert result.chars == len(result.text)


def test_cap_metadata_cuts_each_value_then_leaves_out_what_passes_the_total():
    caps = {"metadata_value_chars": 4, "metadata_chars": 6}
    assert cap_metadata({"a": "12", "b": "34"}, caps) == (
        {"a": "12", "b": "34"},
        False,
    )
    assert cap_metadata({"a": "123456"}, caps) == ({"a": "1234"}, True)
    assert cap_metadata({"a": "1234", "b": "567", "c": "8"}, caps) == (
        {"a": "1234", "c": "8"},
        True,
    )


@pytest.fixture
def scan(tmp_path):
    return shutil.copyfile(SCAN, tmp_path / "source.pdf")


def run(path, **caps):
    return sandbox.extract(path, engine="pdfminer", options=AUTO, **caps)


def test_ocr_pages_get_time_of_their_own_beyond_the_extraction_limit(scan):
    # pdfminer alone needs well under a second here; OCR of two 300 dpi pages, seconds.
    result = run(scan, timeout=5, memory_mb=1024, ocr_page_seconds=120)
    assert result.warnings == ["ocr_pages:2"]
    assert all(page.ocr and page.text.strip() for page in result.pages)
    with pytest.raises(ExtractionTimeout) as info:
        run(scan, timeout=1.5, memory_mb=1024, ocr_page_seconds=0.01)
    assert "OCR_PAGE_SECONDS" in info.value.message


def test_ocr_has_its_own_memory_cap(scan):
    # Too little for Tesseract, enough for pdfminer: OCR needs OCR_MEMORY_MB (0: no cap).
    with pytest.raises(MemoryLimit):
        run(scan, timeout=120, memory_mb=120, ocr_page_seconds=120, ocr_memory_mb=120)
    result = run(scan, timeout=120, memory_mb=120, ocr_page_seconds=120, ocr_memory_mb=0)
    assert [page.number for page in result.pages if page.ocr] == [1, 2]


def test_ocr_off_keeps_the_page_empty_and_flagged(scan):
    result = sandbox.extract(
        scan, engine="pdfminer", options={**AUTO, "ocr": "off"}, timeout=60, memory_mb=1024
    )
    assert result.warnings == ["no_text_layer"]
    assert not any(page.ocr for page in result.pages)


def test_cap_outline_cuts_long_titles_like_metadata_values():
    caps = {"metadata_value_chars": 4, "metadata_chars": 6}
    short = [{"level": 1, "title": "Intro", "page": 1}]
    assert cap_outline(short, {**caps, "metadata_value_chars": 5}) == (short, False)
    assert cap_outline(short, caps) == (
        [{"level": 1, "title": "Intr", "page": 1}],
        True,
    )


# --- a page tree that lists one page many times; the page limits ---


@pytest.mark.parametrize("engine", ["pdfminer", "pdfium"])
def test_a_page_tree_listing_one_page_a_thousand_times_is_one_page(tmp_path, engine):
    path = tmp_path / "repeated.pdf"
    path.write_bytes(hostile.repeated_page_tree(levels=3, repeat=10))  # 10**3 to PDFium
    counts = []
    result = sandbox.extract(
        path, engine=engine, on_count=lambda n: counts.append(n) or True, **LIMITS
    )
    assert counts == [1]
    assert [page.number for page in result.pages] == [1]
    assert result.pages[0].text.strip() == "Hello"


def test_ocr_auto_reads_the_distinct_pages_of_a_tree_pdfminer_sees_no_page_in(tmp_path):
    # The leaf has no /Type: pdfminer finds no page, and ocr=auto reads the document as PDFium
    # counts it; 100 entries of one page are one page to OCR.
    path = tmp_path / "untyped.pdf"
    path.write_bytes(hostile.repeated_page_tree(levels=2, repeat=10, typed_leaf=False))
    result = run(path, timeout=120, memory_mb=1024, ocr_page_seconds=120)
    assert [page.number for page in result.pages] == [1]
    assert "ocr_pages:1" in result.warnings


@pytest.mark.parametrize("typed_leaf", [True, False])
def test_a_million_claimed_pages_cost_one_page_in_an_unmoved_deadline(tmp_path, typed_leaf):
    # 10**6 pages to PDFium in a kilobyte: the one real page, within the per-page limits (a
    # deadline that grew with the claimed pages would let it run for days).
    path = tmp_path / "million.pdf"
    path.write_bytes(hostile.repeated_page_tree(levels=6, repeat=10, typed_leaf=typed_leaf))
    result = sandbox.extract(
        path, engine="pdfium", timeout=30, memory_mb=1024, open_seconds=10, page_seconds=10
    )
    assert len(result.pages) == 1


@pytest.mark.parametrize("engine", ["pdfminer", "pdfium", "ocr"])
def test_a_document_over_max_pages_fails_too_many_pages_before_any_page(tmp_path, engine):
    path = tmp_path / "six.pdf"
    path.write_bytes(hostile.long_text(pages=6, lines=1))
    progress = []
    ocr = options.for_engine({}, engine, load_settings({}, dotenv=False))
    with pytest.raises(TooManyPages) as info:
        sandbox.extract(
            path,
            engine=engine,
            options=ocr,
            caps=sandbox.Caps(pages=5),
            on_progress=lambda done, total: progress.append(done),
            **LIMITS,
        )
    assert info.value.code == "too_many_pages" and info.value.status == 422
    assert "MAX_PAGES" in info.value.message
    assert progress == []
    ok = sandbox.extract(path, engine=engine, options=ocr, caps=sandbox.Caps(pages=6), **LIMITS)
    assert len(ok.pages) == 6


def test_max_pages_counts_the_distinct_pages_not_the_claimed_ones(tmp_path):
    path = tmp_path / "million.pdf"
    path.write_bytes(hostile.repeated_page_tree(levels=6, repeat=10, typed_leaf=False))
    result = sandbox.extract(path, engine="pdfium", caps=sandbox.Caps(pages=1), **LIMITS)
    assert len(result.pages) == 1


def test_ocr_reads_at_most_max_ocr_pages(scan):
    # ocr=auto: the first pages, then the text as it is, with a warning; the ocr engine
    # refuses the document before reading a page.
    one = sandbox.Caps(ocr_pages=1)
    capped = run(scan, timeout=120, memory_mb=1024, ocr_page_seconds=120, caps=one)
    assert [page.number for page in capped.pages if page.ocr] == [1]
    assert "ocr_capped" in capped.warnings and "ocr_pages:1" in capped.warnings
    engine = options.for_engine({}, "ocr", load_settings({}, dotenv=False))
    with pytest.raises(TooManyPages) as info:
        sandbox.extract(scan, engine="ocr", options=engine, caps=one, **LIMITS)
    assert "MAX_OCR_PAGES" in info.value.message


@pytest.mark.parametrize("engine", ["pdfminer", "pdfium"])
@pytest.mark.parametrize(
    ("where", "limit"),
    [
        ("title", "PAGE_TIMEOUT_SECONDS"),
        ("outline", "PAGE_TIMEOUT_SECONDS"),
        ("page_tree", "OPEN_TIMEOUT_SECONDS"),
    ],
)
def test_a_string_that_inflates_to_megabytes_ends_coded_within_its_step(
    tmp_path, engine, where, limit
):
    # A 40 KB file with one 40 MB string (pdfminer reads it a character at a time): behind
    # /Title, an outline title, or beside the page tree's root. The whole request may take
    # 300 s; opening it, or what follows the last page, 3 s.
    path = tmp_path / "inflated.pdf"
    path.write_bytes(hostile.inflated_string(where, 40 * 2**20))
    started = time.monotonic()
    try:
        result = sandbox.extract(
            path,
            engine=engine,
            options={"outputs": ["markdown"]},  # the outline is read for Markdown's headings
            timeout=300,
            memory_mb=2048,
            open_seconds=3,
            page_seconds=3,
        )
    except ExtractionTimeout as exc:
        assert limit in exc.message
    else:  # read in C by PDFium (the outline, always), in time: its text, values cut to caps
        assert where != "title" or "metadata_truncated" in result.warnings
        assert result.pages.count == 1
    assert time.monotonic() - started < 60
