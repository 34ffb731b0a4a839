"""Blocks come from the same layout pass as the text, which stays extract_text's."""

import pytest
from pdfminer.high_level import extract_text

from engines import pdfminer_engine
from tests.support.corpus import GOOD

STRUCTURE = {"outputs": ["blocks", "markdown"]}


def extract(path, options: dict | None = None, **kwargs):
    """pdfminer's engine as a job that asks for blocks and Markdown runs it."""
    return pdfminer_engine.extract(path, options={**STRUCTURE, **(options or {})}, **kwargs)


def squeezed(text: str) -> str:
    return "".join(text.split())


@pytest.mark.parametrize("name", ["pdfjs_tracemonkey.pdf", "pdfminer_dmca.pdf"])
def test_blocks_hold_the_page_text_in_reading_order_and_the_text_is_unchanged(name):
    result = extract(GOOD / name)
    assert result.text == extract_text(GOOD / name)
    for page in result.pages:
        assert squeezed("".join(b["text"] for b in page.blocks)) == squeezed(page.text)


def test_blocks_carry_bbox_in_points_font_and_size():
    [page] = extract(GOOD / "pdfjs_tracemonkey.pdf", pages=(1, 1)).pages
    title = page.blocks[0]
    assert title["text"].startswith("Trace-based Just-in-Time")
    assert title["size"] > 15 and title["font"]
    x0, y0, x1, y1 = title["bbox"]
    assert 0 <= x0 < x1 <= 612 and 0 <= y0 < y1 <= 792  # US Letter, in points
    assert y0 > 600, "the title is at the top of the page (PDF y grows upwards)"
    sizes = {b["size"] for b in page.blocks}
    assert 9.0 in sizes  # the body text


def test_without_layout_analysis_the_page_is_one_block():
    [page] = extract(GOOD / "pdfminer_jo.pdf", options={"layout": False}).pages
    assert len(page.blocks) == 1
    assert squeezed(page.blocks[0]["text"]) == squeezed(page.text)


def test_a_font_name_pdfminer_gives_as_bytes_makes_blocks_not_a_corrupt_pdf():
    path = GOOD / "pdfjs_issue1350.pdf"  # its font names come as UTF-32 bytes
    result = extract(path)
    assert result.text == extract_text(path)
    fonts = {block["font"] for page in result.pages for block in page.blocks}
    assert "Arial-BoldMT" in fonts
    assert not any(page.warnings for page in result.pages)


def test_a_page_whose_blocks_fail_keeps_its_text_with_a_warning(monkeypatch):
    from engines import layout_blocks

    real = layout_blocks.page_blocks

    def failing(ltpage):
        if ltpage.pageid == 2:
            raise TypeError("a value of a type no one expected")
        return real(ltpage)

    monkeypatch.setattr(layout_blocks, "page_blocks", failing)
    path = GOOD / "pdfjs_tracemonkey.pdf"
    result = extract(path, pages=(1, 3))
    assert result.text == "".join(page + "\f" for page in extract_text(path).split("\f")[:3])
    broken = result.pages[1]
    assert broken.blocks is None and broken.warnings == ["blocks_failed"]
    assert result.pages[0].blocks and not result.pages[0].warnings
    assert "blocks_failed" in result.warnings


def test_a_page_whose_markdown_would_fail_keeps_its_text_and_loses_only_its_blocks(monkeypatch):
    from engines import base

    real = base.structure.markdown_page

    def failing(page):
        if page["page"] == 1:
            raise ValueError("no Markdown for this page")
        return real(page)

    monkeypatch.setattr(base.structure, "markdown_page", failing)
    result = extract(GOOD / "pdfminer_dmca.pdf", pages=(1, 2))
    first, second = result.pages
    assert first.blocks is None and first.warnings == ["markdown_failed"]
    assert second.blocks and not second.warnings
    assert first.text == extract_text(GOOD / "pdfminer_dmca.pdf", page_numbers=[0]).rstrip("\f")
    assert "markdown_failed" in result.warnings


def test_blocks_hold_no_value_json_or_markdown_cannot_take():
    from engines.base import checked_blocks

    blocks, warnings = checked_blocks(
        1,
        lambda: [
            {"text": "x\n", "bbox": [0, float("nan"), 1, 1], "size": float("inf"), "font": b"F"}
        ],
    )
    assert warnings == []
    assert blocks == [{"text": "x\n", "bbox": None, "size": None, "font": None, "bold": False}]


def test_a_job_that_names_no_outputs_gets_no_layout_pass_and_no_outline(monkeypatch):
    from engines import layout_blocks, pdfium_engine

    def never(*args, **kwargs):
        raise AssertionError("structure computed for a job that did not ask for it")

    monkeypatch.setattr(layout_blocks, "page_blocks", never)
    monkeypatch.setattr(pdfium_engine, "outline", never)
    result = pdfminer_engine.extract(GOOD / "pdfminer_pagelabels.pdf")
    assert result.text == extract_text(GOOD / "pdfminer_pagelabels.pdf")
    assert result.outline == [] and all(page.blocks is None for page in result.pages)
    assert result.warnings == []  # no blocks_failed: the layout pass never ran
