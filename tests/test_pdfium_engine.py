"""The PDFium engine (engines/pdfium_engine.py) on hostile page trees: a /Count is believed
only as far as the tree really holds pages."""

import pypdfium2 as pdfium

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


def _counting_page_loads(monkeypatch) -> list[int]:
    loads: list[int] = []
    real = pdfium.PdfDocument.__getitem__

    def load(document, index):
        loads.append(index)
        return real(document, index)

    monkeypatch.setattr(pdfium.PdfDocument, "__getitem__", load)
    return loads


def test_a_counted_document_is_extracted_without_loading_its_pages_again(monkeypatch):
    loads = _counting_page_loads(monkeypatch)
    path = GOOD / "pymupdf_small-table.pdf"
    plain = pdfium_engine.extract(path).pages
    loads.clear()
    assert pdfium_engine.page_count(path, keep=True) == len(plain)
    kept = pdfium_engine.extract(path).pages
    assert [(p.number, p.text) for p in kept] == [(p.number, p.text) for p in plain]
    assert sorted(loads) == list(range(len(plain)))  # each page parsed once, the count's too
    assert not pdfium_engine._kept


def test_a_kept_count_is_closed_by_forget_and_never_used_for_another_file(monkeypatch):
    path, other = GOOD / "pymupdf_small-table.pdf", GOOD / "pdfjs_tracemonkey.pdf"
    pdfium_engine.page_count(path, keep=True)
    assert len(pdfium_engine.extract(other).pages) == 14
    pdfium_engine.forget()
    assert not pdfium_engine._kept
