"""A job's stored options (core/options.py) as arguments of consumer.extract.extract()."""

from __future__ import annotations

from pdfminer.layout import LAParams

from core.options import page_numbers


def extract_arguments(options: dict | None) -> dict:
    """Keyword arguments for extract(): layout on/off, LAParams, page selection, max pages."""
    options = options or {}
    return {
        "layout": options.get("layout", True),
        "laparams": LAParams(**options.get("laparams", {})),
        "page_numbers": page_numbers(options.get("pages")),
        "max_pages": options.get("max_pages", 0),
    }
