"""Imported once by each warm sandbox child (consumer/sandbox_child.py), before its first
request: the engines, so a request never pays for their import. Tesseract (tesserocr) is
left out: only a child that OCRs loads it."""

import engines.ocr_engine  # noqa: F401
import engines.page_image  # noqa: F401
import engines.pdfium_engine  # noqa: F401
import engines.pdfminer_engine  # noqa: F401
