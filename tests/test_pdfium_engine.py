"""The PDFium engine (engines/pdfium_engine.py) on hostile page trees: a /Count is believed
only as far as the tree really holds pages."""

from engines import pdfium_engine
from tests.support import hostile
from tests.support.corpus import GOOD


def test_a_page_tree_that_lies_about_its_count_is_counted_by_its_real_pages(tmp_path):
    path = tmp_path / "lying.pdf"
    path.write_bytes(hostile.lying_page_count(1_000_000))
    assert len(path.read_bytes()) < 1000
    assert pdfium_engine.page_count(path) == 1


def test_a_lying_count_still_extracts_the_real_page(tmp_path):
    path = tmp_path / "lying.pdf"
    path.write_bytes(hostile.lying_page_count(1_000_000))
    result = pdfium_engine.extract(path)
    assert [page.number for page in result.pages] == [1]
    assert "Hello" in result.pages[0].text


def test_an_honest_count_is_kept():
    assert pdfium_engine.page_count(GOOD / "pdfjs_tracemonkey.pdf") == 14
    assert pdfium_engine.page_count(GOOD / "pdfminer_dmca.pdf") == 18
