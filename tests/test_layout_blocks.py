"""Blocks come from the same layout pass as the text, which stays extract_text's."""

import pytest
from pdfminer.high_level import extract_text

from engines.pdfminer_engine import extract
from tests.support.corpus import GOOD


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
