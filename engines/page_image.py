"""One page of a PDF as a PNG, drawn by PDFium: what the page's viewer shows beside its text.

Run only inside a sandbox child (consumer/sandbox.py `render`), like every engine. The PNG
is encoded here with zlib (no imaging library): RGB rows, filter 0, compressed at level 6.
The height is bounded as well as the width, so a page 100 times taller than it is wide
draws no 100-times-larger bitmap.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

from core.errors import NotFound
from engines.pdfium_engine import _open

MAX_ASPECT = 4  # the image is at most this many times taller than its width


def render_png(path: Path | str, out: Path | str, *, page: int, width: int, password: str = ""):
    """Draw page `page` (1-based) `width` pixels wide (fewer when the page is very tall) and
    write it to `out` as a PNG; returns (width, height) drawn and the page's (width, height)
    in PDF points, which map the page's text blocks onto the image."""
    document = _open(path, password)
    try:
        if not 1 <= page <= len(document):
            raise NotFound(f"Page {page} is not in this document (1-{len(document)}).")
        pdf_page = document[page - 1]
        try:
            points_wide, points_high = pdf_page.get_size()
            scale = min(width / max(points_wide, 1.0), width * MAX_ASPECT / max(points_high, 1.0))
            white = (255, 255, 255, 255)
            bitmap = pdf_page.render(scale=scale, rev_byteorder=True, fill_color=white)
            try:
                size = (*_write_png(out, bitmap), points_wide, points_high)
            finally:
                bitmap.close()
        finally:
            pdf_page.close()
    finally:
        document.close()
    return size


def _write_png(out: Path | str, bitmap) -> tuple[int, int]:
    wide, high, stride = bitmap.width, bitmap.height, bitmap.stride
    channels = bitmap.n_channels
    raw = memoryview(bitmap.buffer).cast("B")
    row_bytes = wide * 3
    packer = zlib.compressobj(6)
    body = bytearray()
    for y in range(high):
        row = bytes(raw[y * stride : y * stride + wide * channels])
        if channels == 4:  # RGBA or RGBx: drop the fourth byte of each pixel
            row = b"".join(row[i : i + 3] for i in range(0, len(row), 4))
        body += packer.compress(b"\x00" + row[:row_bytes])
    body += packer.flush()
    header = struct.pack(">IIBBBBB", wide, high, 8, 2, 0, 0, 0)  # 8-bit RGB
    with open(out, "wb") as file:
        file.write(b"\x89PNG\r\n\x1a\n")
        file.write(_chunk(b"IHDR", header))
        file.write(_chunk(b"IDAT", bytes(body)))
        file.write(_chunk(b"IEND", b""))
    return wide, high


def _chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)
