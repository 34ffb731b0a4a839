"""Text blocks from pdfminer's layout pass: the same LTPage that makes a page's text.

BlockConverter writes exactly what pdfminer's TextConverter writes (it is one) and, per page,
keeps each text box in the order the text was written: its text, bbox (PDF points, origin
bottom left), dominant font name and size, and whether that font is bold. A page whose
blocks cannot be made keeps its text: its blocks are None, with a warning
(engines/base.py checked_blocks). Text outside any
box (figures' characters; every character when layout analysis is off) becomes one block of
its own between the boxes around it. Kinds (heading, paragraph...) need the whole document's
body size, so core/jobs/structure.py assigns them.
"""

from __future__ import annotations

from collections import Counter

from pdfminer.converter import TextConverter
from pdfminer.layout import LTChar, LTContainer, LTPage, LTText, LTTextBox

from engines import pdf_values
from engines.base import checked_blocks

# Weights that set headings: "Medi" is the bold of the Nimbus fonts TeX uses for Times.
BOLD_MARKERS = ("bold", "black", "heavy", "semibold", "demi", "medi")


class BlockConverter(TextConverter):
    """TextConverter that also keeps the blocks of the last page it laid out, and what went
    wrong making them."""

    blocks: list[dict] | None
    warnings: list[str]

    def receive_layout(self, ltpage: LTPage) -> None:
        super().receive_layout(ltpage)  # the text, exactly as extract_text writes it
        self.blocks, self.warnings = checked_blocks(ltpage.pageid, lambda: page_blocks(ltpage))


def page_blocks(ltpage: LTPage) -> list[dict]:
    blocks: list[dict] = []
    loose: list = []  # text items outside boxes, since the last box
    for item in ltpage:
        if isinstance(item, LTTextBox):
            _flush(loose, blocks)
            loose = []
            _add(blocks, item.get_text(), item.bbox, _chars(item))
        elif isinstance(item, LTText | LTContainer):
            loose.append(item)
    _flush(loose, blocks)
    return blocks


def _flush(items: list, blocks: list[dict]):
    if not items:
        return
    text = "".join(_text(item) for item in items)
    chars = [char for item in items for char in _chars(item)]
    bbox = (
        min(i.x0 for i in items),
        min(i.y0 for i in items),
        max(i.x1 for i in items),
        max(i.y1 for i in items),
    )
    _add(blocks, text, bbox, chars)


def _add(blocks: list[dict], text: str, bbox, chars: list[LTChar]):
    if not text.strip():
        return
    font, size = _dominant(chars)
    blocks.append(
        {
            "text": text,
            "bbox": [round(v, 2) for v in bbox],
            "size": size,
            "font": font,
            "bold": bool(font) and any(mark in font.lower() for mark in BOLD_MARKERS),
        }
    )


def _text(item) -> str:
    if isinstance(item, LTContainer):
        return "".join(_text(child) for child in item)
    return item.get_text() if isinstance(item, LTText) else ""


def _chars(item) -> list[LTChar]:
    if isinstance(item, LTChar):
        return [item]
    if isinstance(item, LTContainer):
        return [char for child in item for char in _chars(child)]
    return []


def _dominant(chars: list[LTChar]) -> tuple[str | None, float | None]:
    """The font name (subset prefix dropped) and size most of the visible characters use."""
    counts = Counter(
        (pdf_values.font_name(char.fontname), round(char.size, 1))
        for char in chars
        if not char.get_text().isspace()
    )
    if not counts:
        return None, None
    (font, size), _ = counts.most_common(1)[0]
    return font, size
