"""Per-page quality flags: is there a text layer, is the text garbled, did OCR read it.

pdfminer writes `(cid:NN)` for glyphs it cannot map to Unicode, and fonts with broken
ToUnicode maps give U+FFFD; a page dominated by either is unreadable, not empty.
"""

from __future__ import annotations

import re

from engines.base import Extraction, Page

_CID = re.compile(r"\(cid:\d+\)")
GARBLED_SHARE = 0.3  # of a page's visible characters


def garbled(text: str) -> bool:
    """True when (cid:NN) placeholders or U+FFFD make up much of the page's visible text."""
    visible = len("".join(text.split()))
    if not visible:
        return False
    bad = sum(len(m) for m in _CID.findall(text)) + text.count("\ufffd")
    return bad / visible >= GARBLED_SHARE


def page_record(page: Page, engine: str) -> dict:
    """One line of pages.jsonl; `engine` is the package of the job's engine. A page read by
    OCR names Tesseract instead, with its mean word confidence (0-100); a page whose extras
    failed (blocks, Markdown, OCR) lists them in `warnings`, its text whole."""
    record = {
        "page": page.number,
        "text": page.text,
        "chars": page.chars,
        "has_text_layer": bool(page.text.strip()) and not page.ocr,
        "garbled": garbled(page.text),
        "ocr": bool(page.ocr),
        "engine": engine,
    }
    if page.ocr:
        record["engine"] = page.ocr["engine"]
        record["engine_version"] = page.ocr["engine_version"]
        record["confidence"] = page.ocr["confidence"]
        record["ocr_languages"] = page.ocr["languages"]
    if page.warnings:
        record["warnings"] = list(page.warnings)
    return record


def warnings(extraction: Extraction) -> list[str]:
    """The extraction's warnings plus `garbled_text` when any page is garbled."""
    found = list(extraction.warnings)
    if "garbled_text" not in found and any(garbled(p.text) for p in extraction.pages):
        found.append("garbled_text")
    return found


def summary(extraction: Extraction) -> dict:
    """Which pages lack a text layer and which are garbled, for result.json."""
    return {
        "pages_without_text": [p.number for p in extraction.pages if not p.text.strip()],
        "garbled_pages": [p.number for p in extraction.pages if garbled(p.text)],
        "ocr_pages": [p.number for p in extraction.pages if p.ocr],
    }
