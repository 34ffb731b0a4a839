"""The pdfminer.six engine (engines/pdfminer_engine.py): the same text as pdfminer's own
extract_text, page by page with progress and metadata, and a specific pdfq error for every
file it cannot read."""

import pytest
from pdfminer.high_level import extract_text

from core.errors import PdfqError
from engines import pdfminer_engine
from engines.pdfminer_engine import extract
from tests.support import hostile
from tests.support.corpus import BAD, GOOD, NEEDS_SANDBOX, expected_outcome, manifest

# Quick, deterministic files from several producers; each page count is in the manifest.
SAMPLES = [
    "pdfminer_dmca.pdf",
    "pdfjs_tracemonkey.pdf",
    "pypdf_multilang.pdf",
    "pymupdf_chinese-tables.pdf",
    "pdfminer_pagelabels.pdf",
]


@pytest.mark.parametrize("name", SAMPLES)
def test_text_equals_pdfminer_extract_text(name):
    path = GOOD / name
    result = extract(path)
    assert result.text == extract_text(path)
    pages = {row["file"]: int(row["pages"]) for row in manifest(GOOD)}
    assert len(result.pages) == pages[name]
    assert [page.number for page in result.pages] == list(range(1, pages[name] + 1))


def test_progress_is_reported_after_every_page():
    seen = []
    extract(GOOD / "pdfminer_dmca.pdf", on_page=lambda done, total: seen.append((done, total)))
    assert seen == [(n, 18) for n in range(1, 19)]


def test_metadata_is_read_from_the_info_dictionary():
    result = extract(GOOD / "pdfjs_tracemonkey.pdf")
    assert result.metadata, "tracemonkey.pdf has an Info dictionary"
    assert all(isinstance(v, str) and v for v in result.metadata.values())
    assert result.encrypted is False


BAD_ROWS = [
    row for row in manifest(BAD) if row["file"] not in NEEDS_SANDBOX and row["outcome"] != "not_pdf"
]


@pytest.mark.parametrize("row", BAD_ROWS, ids=[row["file"] for row in BAD_ROWS])
def test_every_bad_file_ends_with_a_specific_outcome(row):
    status, detail = expected_outcome(row)
    if status == "succeeded":
        result = extract(BAD / row["file"])
        assert (detail in result.warnings) if detail else result.text.strip()
    else:
        with pytest.raises(PdfqError) as info:
            extract(BAD / row["file"])
        assert info.value.code == detail
        assert not info.value.retryable


@pytest.mark.parametrize("name", ["gen_zero_bytes.pdf", "png_renamed.pdf", "text_renamed.pdf"])
def test_files_without_the_pdf_header_are_not_a_pdf(name):
    with pytest.raises(PdfqError) as info:
        extract(BAD / name)
    assert info.value.code == "not_a_pdf"


def test_the_right_password_opens_an_encrypted_pdf():
    result = extract(BAD / "pdfminer_aes-128.pdf", password="baz")
    assert result.encrypted is True
    assert result.text.strip()


def test_an_unsupported_crypt_filter_is_an_unsupported_encryption_not_a_missing_password(
    tmp_path,
):
    path = tmp_path / "crypt-filter.pdf"
    path.write_bytes(hostile.unsupported_crypt_filter())
    with pytest.raises(PdfqError) as info:
        extract(path)
    assert info.value.code == "unsupported"
    assert "password will not help" in info.value.message
    assert "param=" not in info.value.message  # the encryption dictionary stays out
    # A wrong password is still what it was: encrypted.
    with pytest.raises(PdfqError) as wrong:
        extract(BAD / "pdfminer_aes-128.pdf", password="nope")
    assert wrong.value.code == "encrypted"


def test_without_blocks_or_markdown_asked_there_are_no_blocks_and_no_outline(monkeypatch):
    from engines import pdfium_engine

    def never(*args, **kwargs):
        raise AssertionError("PDFium opened for an outline nobody asked for")

    monkeypatch.setattr(pdfium_engine, "outline", never)
    path = GOOD / "pdfminer_pagelabels.pdf"  # it has an outline
    result = extract(path, options={"outputs": []})
    assert result.text == extract_text(path)
    assert all(page.blocks is None for page in result.pages)
    assert result.outline == []
    monkeypatch.undo()
    asked = extract(path, options={"outputs": ["markdown"]})
    assert asked.outline and all(page.blocks for page in asked.pages)


@pytest.mark.parametrize("engine", ["pdfminer", "pdfium"])
def test_an_outline_that_fails_leaves_the_text_with_a_warning(monkeypatch, engine):
    from engines import pdfium_engine

    def broken(document, max_items=2000):
        raise RuntimeError("the outline loops")

    monkeypatch.setattr(pdfium_engine, "outline_of", broken)
    module = extract if engine == "pdfminer" else pdfium_engine.extract
    result = module(GOOD / "pdfminer_pagelabels.pdf", options={"outputs": ["markdown"]})
    assert result.outline == [] and "outline_failed" in result.warnings
    assert result.text.strip()


def test_metadata_values_are_text_whatever_type_pdfminer_gives(tmp_path):
    path = tmp_path / "meta.pdf"
    path.write_bytes(hostile.typed_metadata())
    result = extract(path)
    assert result.metadata == {
        "title": "Straße",  # PDFDocEncoding bytes
        "author": "Ωmega",  # UTF-16 with its byte-order mark
        "subject": "Name",  # a name where a string belongs
        "creator": "Referenced",  # a reference to a string
    }


@pytest.fixture
def opened(monkeypatch) -> list[int]:
    """One entry for each document the engine parses from here on (none kept open before)."""
    counted = []
    real = pdfminer_engine.PDFDocument

    def counting(*args, **kwargs):
        counted.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(pdfminer_engine, "PDFDocument", counting)
    pdfminer_engine.forget()
    yield counted
    pdfminer_engine.forget()


def test_ranges_of_one_document_read_in_turn_parse_it_once(opened):
    path = GOOD / "pdfjs_tracemonkey.pdf"
    whole = [(p.number, p.text) for p in pdfminer_engine.extract(path).pages]
    opened.clear()
    ranges = [(11, 14), (6, 10), (1, 5)]  # as the job's worker takes them: from the back
    got = [p for r in ranges for p in pdfminer_engine.extract(path, pages=r).pages]
    assert sorted((p.number, p.text) for p in got) == whole
    assert len(opened) == 1


def test_ranges_of_one_named_document_read_from_other_copies_parse_it_once(tmp_path, opened):
    source = GOOD / "pdfjs_tracemonkey.pdf"
    copies = []
    for name in ("one", "two", "three"):
        copies.append(tmp_path / f"{name}.pdf")
        copies[-1].write_bytes(source.read_bytes())
    whole = [(p.number, p.text) for p in pdfminer_engine.extract(source).pages]
    opened.clear()
    ranges = [(11, 14), (6, 10), (1, 5)]
    got = [
        p
        for path, r in zip(copies, ranges, strict=True)
        for p in pdfminer_engine.extract(path, pages=r, document="source@etag").pages
    ]
    assert sorted((p.number, p.text) for p in got) == whole
    assert len(opened) == 1


def test_a_named_count_leaves_the_document_open_for_its_first_range(opened):
    path = GOOD / "pdfjs_tracemonkey.pdf"
    assert pdfminer_engine.page_count(path, document="source@etag") == 14
    got = pdfminer_engine.extract(path, pages=(1, 5), document="source@etag").pages
    assert [p.number for p in got] == [1, 2, 3, 4, 5]
    assert len(opened) == 1  # the count's parse, read again by the range


def test_a_named_count_keeps_no_more_pages_than_the_limit_and_one():
    # A document over MAX_PAGES is refused: a count that kept all of its pages could run
    # the child out of memory first.
    path = GOOD / "pdfjs_tracemonkey.pdf"
    try:
        assert pdfminer_engine.page_count(path, document="source@etag", most=5) == 6
        assert len(pdfminer_engine._kept.pages) == 6
    finally:
        pdfminer_engine.forget()


def test_another_document_replaces_the_one_kept_open(tmp_path):
    first, second = GOOD / "pdfjs_tracemonkey.pdf", GOOD / "pdfminer_dmca.pdf"
    pdfminer_engine.extract(first, pages=(1, 2))
    expected = pdfminer_engine.extract(second).pages[2].text
    assert pdfminer_engine.extract(second, pages=(3, 3)).pages[0].text == expected
    # The same path with other bytes (a new job's file in a reused place) is opened again.
    copy = tmp_path / "source.pdf"
    copy.write_bytes(first.read_bytes())
    pdfminer_engine.extract(copy, pages=(1, 1))
    copy.write_bytes(second.read_bytes())
    assert pdfminer_engine.extract(copy, pages=(3, 3)).pages[0].text == expected
    pdfminer_engine.forget()
