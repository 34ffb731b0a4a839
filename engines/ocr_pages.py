"""Pages read by OCR: rendered with PDFium, recognized by Tesseract through tesserocr.

tesserocr runs Tesseract in this process: one model load serves every page of the call, and
the sandbox's memory cap and kill cover it (a `tesseract` subprocess, as pytesseract runs,
would outlive a killed sandbox child). Tesseract is built without OpenMP in tesserocr's
wheel, so one call uses one core and page-parallel jobs spread pages over workers.
"""

from __future__ import annotations

import logging
import statistics
from collections.abc import Callable, Iterable
from importlib.metadata import version

import pypdfium2 as pdfium

from core.errors import Unsupported
from engines.base import Page, checked_blocks

log = logging.getLogger("pdfq.engines")

ENGINE = "tesseract"


def read(
    document: pdfium.PdfDocument,
    numbers: Iterable[int],
    *,
    languages: str,
    tessdata: str,
    dpi: int,
    structure: bool = True,
    on_page: Callable[[int, Page | None], None] | None = None,
) -> list[Page]:
    """OCR the 1-based pages `numbers` of an open PDFium document, in order; on_page(number,
    page) after each, with None for a page OCR failed on (the others go on). Text blocks
    only with `structure`."""
    import tesserocr  # heavy (the model is loaded per API): only in the child that OCRs

    try:
        api = tesserocr.PyTessBaseAPI(path=tessdata.rstrip("/") + "/", lang=languages)
    except RuntimeError as exc:
        raise Unsupported(
            f"OCR cannot start with languages {languages!r} in {tessdata}: {exc}"
        ) from exc
    meta = {
        "engine": ENGINE,
        "engine_version": tesserocr.tesseract_version().split()[1],
        "binding": f"tesserocr {version('tesserocr')}",
        "languages": languages,
        "dpi": dpi,
    }
    pages = []
    try:
        for number in numbers:
            try:
                page = _read_page(api, tesserocr, document, number, dpi, meta, structure)
            except MemoryError:
                raise
            except Exception as exc:  # noqa: BLE001 - one page's OCR: the others go on
                log.warning("OCR of page %d failed: %s: %s", number, type(exc).__name__, exc)
                api.Clear()
                page = None
            else:
                pages.append(page)
            if on_page:
                on_page(number, page)
    finally:
        api.End()
    return pages


def _read_page(api, tesserocr, document, number: int, dpi: int, meta: dict, structure) -> Page:
    pdf_page = document[number - 1]
    try:
        bitmap = pdf_page.render(scale=dpi / 72, grayscale=True)
    finally:
        pdf_page.close()
    # The raw pixels, handed over as they are: no encoded copy of a 300 dpi page in memory.
    pixels = bytes(bitmap.buffer)
    height = bitmap.height
    api.SetImageBytes(pixels, bitmap.width, height, bitmap.n_channels, bitmap.stride)
    del pixels, bitmap
    api.SetSourceResolution(dpi)
    api.Recognize()
    text = api.GetUTF8Text()
    confidence = api.MeanTextConf() if text.strip() else 0
    blocks, warnings = None, []
    if structure:
        blocks, warnings = checked_blocks(
            number, lambda: _blocks(api, tesserocr, 72 / dpi, height * 72 / dpi)
        )
    api.Clear()
    return Page(number, text, {**meta, "confidence": float(confidence)}, blocks, warnings)


def _blocks(api, tesserocr, scale: float, height: float) -> list[dict]:
    """Tesseract's paragraphs as text blocks: bbox in PDF points (origin bottom left, as
    pdfminer's), size the median line height in points (OCR knows no fonts)."""
    RIL = tesserocr.RIL
    blocks: list[dict] = []
    iterator = api.GetIterator()
    if iterator is None:
        return blocks
    current: dict | None = None
    lines: list[float] = []
    while True:
        if iterator.IsAtBeginningOf(RIL.PARA):
            if current is not None:
                _close(current, lines, blocks)
            box = iterator.BoundingBox(RIL.PARA)
            text = iterator.GetUTF8Text(RIL.PARA) or ""
            current = {"text": text.strip("\n") + "\n", "bbox": _points(box, scale, height)}
            lines = []
        if iterator.IsAtBeginningOf(RIL.TEXTLINE):
            box = iterator.BoundingBox(RIL.TEXTLINE)
            if box:
                lines.append((box[3] - box[1]) * scale)
        if not iterator.Next(RIL.TEXTLINE):
            break
    if current is not None:
        _close(current, lines, blocks)
    return blocks


def _close(block: dict, lines: list[float], blocks: list[dict]):
    if block["text"].strip():
        size = round(statistics.median(lines), 1) if lines else None
        blocks.append({**block, "size": size, "font": None, "bold": False})


def _points(box, scale: float, height: float) -> list[float] | None:
    if not box:
        return None
    left, top, right, bottom = box
    return [
        round(left * scale, 2),
        round(height - bottom * scale, 2),
        round(right * scale, 2),
        round(height - top * scale, 2),
    ]
