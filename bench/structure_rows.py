"""Rows m (OCR: word recall and pages/s per core) and n (outline titles that come out as
Markdown headings), measured in-process on the engines the worker runs."""

from __future__ import annotations

import re
import time
import unicodedata
from pathlib import Path

from bench import image_pdfs
from bench.harness import Row
from core.jobs import options, structure
from core.settings import load_settings
from engines import ocr_engine, pdfminer_engine
from tests.support.corpus import GOOD

HEADING_SHARE_GOAL = 0.8
RECALL_GOAL = 0.97
# Corpus files with an outline (bookmarks) that names the document's sections; quick mode
# leaves out the two books.
OUTLINED = [
    "pdfminer_pagelabels.pdf",
    "pdfjs_file_pdfjs_test.pdf",
    "pymupdf_test_4751.pdf",
    "pymupdf_test_3842.pdf",
]
OUTLINED_BOOKS = ["pdfjs_freeculture.pdf", "pymupdf_mupdf_explored.pdf"]
# "Chapter 1: Creators" is a heading when "Creators" is (printed "CHAPTER ONE: Creators").
_NUMBERED = re.compile(r"^\s*(chapter\s+)?\d+\s*[:.]?\s*(?=\S)", re.IGNORECASE)
_HEADING = re.compile(r"^#{1,3} (.+)$", re.MULTILINE)


def _key(text: str) -> str:
    return re.sub(r"\W+", "", unicodedata.normalize("NFKC", text).lower())


def markdown_of(path: Path) -> tuple[str, list[dict]]:
    """(markdown, outline) as the worker makes them for a pdfminer job that asks for Markdown."""
    extraction = pdfminer_engine.extract(path, options={"outputs": ["markdown"]})
    blocks = [{"page": page.number, "blocks": page.blocks} for page in extraction.pages]
    structure.classify(blocks)
    return structure.markdown(blocks, []), extraction.outline


def heading_share(path: Path) -> tuple[int, int]:
    """(outline titles found among the Markdown headings, outline titles)."""
    text, outline = markdown_of(path)
    headings = [_key(h) for h in _HEADING.findall(text)]
    found = 0
    for entry in outline:
        title = _key(_NUMBERED.sub("", entry["title"]))
        if title and any(
            title == h or (len(h) >= 4 and (title in h or h in title)) for h in headings
        ):
            found += 1
    return found, len(outline)


def outline_headings(full: bool) -> list[Row]:
    """n: per file, the share of outline titles that are Markdown headings (goal 0.8)."""
    made = []
    for name in OUTLINED + (OUTLINED_BOOKS if full else []):
        found, total = heading_share(GOOD / name)
        share = found / total if total else 1.0
        made.append(
            Row(
                f"n. outline headings {name}",
                f"{found}/{total} titles as headings",
                "the PDF's outline",
                share,
                f">= {HEADING_SHARE_GOAL}",
                share >= HEADING_SHARE_GOAL,
            )
        )
    return made


def ocr_quality(full: bool) -> list[Row]:
    """m: OCR of image-only renders of born-digital pages: pooled word recall against
    pdfminer's text of the same pages, and pages/s on one core against pdfminer's."""
    settings = load_settings({}, dotenv=False)
    resolved = options.for_engine({}, "ocr", settings)
    sample = image_pdfs.SAMPLE if full else image_pdfs.QUICK
    hits = total = 0
    ocr_seconds = text_seconds = 0.0
    for source, page, image in image_pdfs.build(image_pdfs.cache_folder(), sample):
        started = time.monotonic()
        reference = image_pdfs.reference_text(source, page)
        text_seconds += time.monotonic() - started
        started = time.monotonic()
        found = ocr_engine.extract(image, options=resolved).pages[0].text
        ocr_seconds += time.monotonic() - started
        want = image_pdfs.words(reference)
        got = image_pdfs.words(found)
        hits += sum(min(count, got[word]) for word, count in want.items())
        total += sum(want.values())
    recall = hits / total
    pages = len(sample)
    return [
        Row(
            "m. OCR word recall",
            f"{recall:.3f} of {total} words, {pages} pages at {image_pdfs.DPI} dpi",
            "pdfminer's text of the born-digital pages",
            recall,
            f">= {RECALL_GOAL}",
            recall >= RECALL_GOAL,
        ),
        Row(
            "m. OCR speed",
            f"{pages / ocr_seconds:.2f} pages/s per core",
            f"pdfminer.six {pages / text_seconds:.1f} pages/s (same pages, born-digital)",
            (pages / ocr_seconds) / (pages / text_seconds),
            "informational",
            True,
        ),
    ]
