"""The extraction engines a job can ask for, by name: one place to dispatch and to version.

pdfminer (pdfminer.six, the default) lays pages out; pdfium (pypdfium2) is about 30 times
faster and reads text in content order. Both return consumer.extract.Extraction.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path

from consumer import extract as pdfminer_engine
from consumer.extract import Extraction
from core.settings import ENGINES

__all__ = ["DEFAULT", "ENGINES", "LABELS", "engine_version", "extract", "page_count"]
DEFAULT = "pdfminer"
# The name result.json and the job summary have always shown for pdfminer.
LABELS = {"pdfminer": "pdfminer.six", "pdfium": "pypdfium2"}


def engine_version(engine: str) -> str:
    """The installed version of the engine's package: part of the dedup key."""
    return version(LABELS[engine])


def extract(
    engine: str,
    path: Path | str,
    *,
    password: str = "",
    pages: tuple[int, int] | None = None,
    on_page: Callable[[int, int], None] | None = None,
    layout: bool = True,
    laparams=None,
    page_numbers: frozenset[int] | None = None,
    max_pages: int = 0,
) -> Extraction:
    """Extract `path` (the 1-based inclusive page range `pages`, or all) with `engine`.

    The job options `page_numbers` and `max_pages` apply to both engines; `layout` and
    `laparams` tune pdfminer's layout analysis, which PDFium does not have.
    """
    if engine == "pdfium":
        from consumer import pdfium_engine  # PDFium's library loads only where it is used

        return pdfium_engine.extract(
            path,
            password=password,
            pages=pages,
            on_page=on_page,
            page_numbers=page_numbers,
            max_pages=max_pages,
        )
    return pdfminer_engine.extract(
        path,
        password=password,
        pages=pages,
        on_page=on_page,
        layout=layout,
        laparams=laparams,
        page_numbers=page_numbers,
        max_pages=max_pages,
    )


def page_count(path: Path | str) -> int | None:
    """The document's page count, cheaply, or None when it cannot be read (extraction will
    then fail with the real error)."""
    from consumer import pdfium_engine
    from core.errors import PdfqError

    try:
        return pdfium_engine.page_count(path)
    except PdfqError:
        return None
