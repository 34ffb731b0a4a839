"""Figures: the images a PDF's pages show, found by PDFium and written as PNG files.

Run only inside a sandbox child (engines/extras.py), for jobs whose `outputs` ask for them,
whichever engine extracted the text. Each page's image objects (those inside Form XObjects
too) are enumerated; an image is a figure when it is big enough to be one, in its own pixels
and on the page (MIN_PIXELS, MIN_POINTS), and when it does not cover its page (FULL_PAGE: a
scan, or a background, whose text the text and OCR already give; the page itself is at
/pages/<n>.png). Its pixels are PDFium's decoding of the image, without its soft mask.

A figure's box is in PDF points, origin bottom left, with the page's MediaBox origin and
/Rotate applied as pdfminer applies them to text blocks and tables, so one box convention
holds for every output.

What a hostile PDF can make this cost is bounded: at most MAX_IMAGES_PER_PAGE image objects
are looked at on a page, no image over MAX_PIXELS is decoded, and a job keeps at most
MAX_FIGURES figures and MAX_BYTES of PNG; past a bound the rest is left out, with the warning
`figures_capped`.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c

from engines.pdfium_engine import _open

# Smaller than this in either side of its own pixels is an icon, a bullet, a rule or a
# texture tile, not something a reader (or a retrieval pipeline) would call a figure.
MIN_PIXELS = 64
# Smaller than this many square points on the page (about 0.9 x 0.9 inch) is a logo or a
# glyph drawn as an image, whatever its resolution.
MIN_POINTS = 64 * 64
# An image covering this share of its page is the page (a scan, a background), not a figure.
FULL_PAGE = 0.85
# Bounds against hostile PDFs (a page of 100,000 tiny images, one image of 10^9 pixels):
MAX_IMAGES_PER_PAGE = 2000  # image objects looked at on one page
MAX_PIXELS = 40_000_000  # decoded at most: a letter page scanned at 600 dpi is 33.7 million
MAX_FIGURES = 500  # kept per job
MAX_BYTES = 128 * 2**20  # PNG bytes kept per job
CAPPED = "figures_capped"
FAILED = "figures_failed"
_FORMATS = {  # PDFium's bitmap format -> (PNG colour type, channels kept)
    pdfium_c.FPDFBitmap_Gray: (0, 1),
    pdfium_c.FPDFBitmap_BGR: (2, 3),
    pdfium_c.FPDFBitmap_BGRx: (2, 3),
    pdfium_c.FPDFBitmap_BGRA: (6, 4),
}


@dataclass
class Caps:
    figures: int = MAX_FIGURES
    bytes: int = MAX_BYTES
    pixels: int = MAX_PIXELS
    per_page: int = MAX_IMAGES_PER_PAGE


@dataclass
class Found:
    """What the figures of a document came to: counts and warnings."""

    figures: int = 0
    bytes: int = 0
    capped: bool = False  # a bound was reached: no more figures are looked for
    skipped: bool = False  # an image over MAX_PIXELS was left out
    failed: bool = False

    @property
    def warnings(self) -> list[str]:
        return [CAPPED] * (self.capped or self.skipped) + [FAILED] * self.failed


def pages(
    path: Path | str,
    password: str,
    numbers: Iterable[int],
    folder: Path,
    caps: Caps | None = None,
    on_page: Callable[[int], None] | None = None,
) -> tuple[list[dict], Found]:
    """([{"page", "figures": [{"bbox", "width", "height", "file", "bytes"}]}] for the 1-based
    page `numbers`, Found): each figure written to `folder` as the PNG `file`."""
    caps = caps or Caps()
    found, out = Found(), []
    document = _open(path, password)
    try:
        for number in numbers:
            figures: list[dict] = []
            if not found.capped and 1 <= number <= len(document):
                try:
                    figures = _page(document, number, folder, caps, found)
                except (pdfium.PdfiumError, ValueError, OSError):
                    found.failed = True  # figures are an extra: the page keeps its text
            out.append({"page": number, "figures": figures})
            if on_page:
                on_page(number)
    finally:
        document.close()
    return out, found


def _page(document, number: int, folder: Path, caps: Caps, found: Found) -> list[dict]:
    page = document[number - 1]
    try:
        place = _Placement(page)
        figures: list[dict] = []
        images = page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE])
        for seen, image in enumerate(images):
            if seen >= caps.per_page or found.capped:
                found.capped = True
                break
            figure = _figure(image, place, caps, found)
            if figure is None:
                continue
            name = f"{number:06d}-{len(figures) + 1:03d}.png"
            size = _write(folder / name, figure.pop("bitmap"), caps.bytes - found.bytes)
            if size is None:
                found.capped = True
                break
            found.figures += 1
            found.bytes += size
            figures.append({**figure, "file": name, "bytes": size})
            if found.figures >= caps.figures:
                found.capped = True
        return figures
    finally:
        page.close()


def _figure(image, place: _Placement, caps: Caps, found: Found) -> dict | None:
    """{"bbox", "width", "height", "bitmap"} of an image that is a figure; None otherwise."""
    try:
        wide, high = image.get_px_size()
        box = place.box(image)
    except pdfium.PdfiumError:
        return None
    if wide < MIN_PIXELS or high < MIN_PIXELS:
        return None
    area = (box[2] - box[0]) * (box[3] - box[1])
    if area < MIN_POINTS or area >= FULL_PAGE * place.area:
        return None
    if wide * high > caps.pixels:
        found.skipped = True  # never decoded: its bitmap alone could be gigabytes
        return None
    try:
        bitmap = image.get_bitmap(render=False)
    except pdfium.PdfiumError:
        found.failed = True
        return None
    if bitmap.format not in _FORMATS:
        _free(bitmap)
        found.failed = True
        return None
    return {"bbox": [round(v, 2) for v in box], "width": wide, "height": high, "bitmap": bitmap}


class _Placement:
    """A page's image boxes as pdfminer places text: the MediaBox's origin at 0, 0 and the
    page's /Rotate applied (pdfminer.pdfinterp's page matrix), images inside Form XObjects
    carried out through their forms' matrices."""

    def __init__(self, page):
        x0, y0, x1, y1 = page.get_mediabox()
        self.area = abs((x1 - x0) * (y1 - y0)) or 1.0
        self.matrix = {
            90: (0, -1, 1, 0, -y0, x1),
            180: (-1, 0, 0, -1, x1, y1),
            270: (0, 1, -1, 0, y1, -x0),
        }.get(page.get_rotation(), (1, 0, 0, 1, -x0, -y0))

    def box(self, image) -> list[float]:
        left, bottom, right, top = image.get_bounds()
        corners = [(left, bottom), (right, bottom), (right, top), (left, top)]
        form = image.container
        while form is not None:  # bounds inside a form are in the form's space
            corners = [_apply(form.get_matrix().get(), x, y) for x, y in corners]
            form = form.container
        corners = [_apply(self.matrix, x, y) for x, y in corners]
        xs, ys = [x for x, _ in corners], [y for _, y in corners]
        return [min(xs), min(ys), max(xs), max(ys)]


def _apply(m, x: float, y: float) -> tuple[float, float]:
    a, b, c, d, e, f = m
    return a * x + c * y + e, b * x + d * y + f


def _write(out: Path, bitmap, room: int) -> int | None:
    """The bitmap as a PNG at `out`; its size, or None (nothing written) past `room` bytes."""
    kind, keep = _FORMATS[bitmap.format]
    wide, high, stride, channels = bitmap.width, bitmap.height, bitmap.stride, bitmap.n_channels
    packer = zlib.compressobj(6)
    body = bytearray()
    try:
        with memoryview(bitmap.buffer).cast("B") as raw:
            for y in range(high):
                row = bytes(raw[y * stride : y * stride + wide * channels])
                body += packer.compress(b"\x00" + _rgb(row, channels, keep))
                if len(body) > room:
                    return None
        body += packer.flush()
    finally:
        _free(bitmap)
    header = struct.pack(">IIBBBBB", wide, high, 8, kind, 0, 0, 0)
    data = b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", bytes(body))
    data += _chunk(b"IEND", b"")
    if len(data) > room:
        return None
    out.write_bytes(data)
    return len(data)


def _free(bitmap):
    """Free the decoded pixels now, not when the collector gets to them: a page of large
    images would otherwise hold them all. Nothing reads the buffer after this."""
    bitmap.warn_on_close = False
    bitmap.close()


def _rgb(row: bytes, channels: int, keep: int) -> bytes:
    """A row of PDFium's pixels (gray, or blue green red and a fourth byte) in PNG's order."""
    if channels == 1:
        return row
    pixels = len(row) // channels
    out = bytearray(pixels * keep)
    out[0::keep] = row[2::channels]
    out[1::keep] = row[1::channels]
    out[2::keep] = row[0::channels]
    if keep == 4:
        out[3::keep] = row[3::channels]
    return bytes(out)


def _chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)
