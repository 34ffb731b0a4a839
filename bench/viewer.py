"""Row q: the viewer's first page of the 352-page book, against PDFium drawing it in-process.

The viewer shows page 1 once its image (GET /jobs/{id}/pages/1.png) and the document's page
text (?format=pages) are in; it asks for both at once. Measured on the live stack: the image
drawn on first request (the PDF copied from storage to a sandbox child, drawn, kept) and read
back from storage on the next, and the text. The baseline opens the same file and draws the
same page in this process, with the same code (engines/page_image.py).
"""

from __future__ import annotations

import tempfile
import time
import urllib.request
from pathlib import Path

from bench.harness import LARGE, Row, salted, wait_terminal
from engines.page_image import render_png
from tests.support.api import multipart
from tests.support.corpus import GOOD

WIDTH = 800


def _timed(stack, path: str) -> float:
    """Seconds to GET `path` whole (bytes: an image is no text to decode)."""
    started = time.perf_counter()
    with urllib.request.urlopen(stack.base + path, timeout=60) as response:  # noqa: S310
        assert response.status == 200
        response.read()
    return time.perf_counter() - started


def first_page(stack, path: Path = GOOD / LARGE) -> list[Row]:
    with tempfile.TemporaryDirectory() as folder:
        copy = salted(path, Path(folder))
        started = time.perf_counter()
        render_png(copy, Path(folder) / "page.png", page=1, width=WIDTH)
        raw = time.perf_counter() - started
        fields = {"engine": "pdfium", "outputs": "blocks,markdown"}
        body, content_type = multipart(copy.read_bytes(), copy.name, fields=fields)
        status, job, _ = stack.request("POST", "/api/v1/pdf/documents", body, content_type)
    assert status == 202, job
    done = wait_terminal(stack, [job["id"]], timeout=600, poll=0.5)[job["id"]]
    assert done["status"] == "succeeded", done
    base = f"/api/v1/pdf/jobs/{job['id']}"
    drawn = _timed(stack, f"{base}/pages/1.png?width={WIDTH}")
    kept = _timed(stack, f"{base}/pages/1.png?width={WIDTH}")
    text = _timed(stack, f"{base}/result?format=pages")
    first = max(drawn, text)
    return [
        Row(
            f"s. viewer's first page ({path.name}), {stack.where}",
            f"{first:.2f} s (image drawn {drawn:.2f} s, kept {kept:.3f} s; text {text:.2f} s)",
            f"PDFium draws page 1 in-process: {raw:.3f} s",
            drawn / raw,
            "first page < 1 s",
            first < 1.0,
        )
    ]
