"""PDFs with images at known places, written object by object (no imaging library): each page
draws image XObjects with a `cm` matrix, directly or inside a Form XObject, some words of
text beside them, and optionally one image many times or one that claims a huge size."""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Image:
    """An image `width` x `height` pixels (gray gradient, or RGB when `rgb`), drawn at
    `box` (x0, y0, x1, y1 in points), `times` times at the same place; inside a Form XObject
    placed at `form_at` (x, y) when that is set (then `box` is in the form's space)."""

    width: int
    height: int
    box: tuple[float, float, float, float]
    rgb: bool = False
    times: int = 1
    form_at: tuple[float, float] | None = None
    claimed: tuple[int, int] | None = None  # /Width /Height written instead of the real ones

    def pixels(self) -> bytes:
        if self.rgb:
            rows = range(self.height)
            return bytes(v for y in rows for x in range(self.width) for v in (x % 256, y % 256, 9))
        return bytes((x + y) % 256 for y in range(self.height) for x in range(self.width))


@dataclass
class Page:
    images: list[Image] = field(default_factory=list)
    text: str = "Figures and words on one page."
    size: tuple[float, float] = (612, 792)
    origin: tuple[float, float] = (0, 0)  # the MediaBox's lower left corner
    rotate: int = 0


def write(path: Path, pages: list[Page]) -> Path:
    objects: list[bytes] = []

    def add(body: bytes) -> int:
        objects.append(body)
        return len(objects)

    def stream(head: str, data: bytes) -> bytes:
        return f"<< {head} /Length {len(data)} >>\nstream\n".encode() + data + b"\nendstream"

    font = add(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    page_ids = []
    pages_id_slot = len(objects) + 1
    add(b"")  # the page tree, filled in below
    for page in pages:
        xobjects, draws = [], []
        for n, image in enumerate(page.images):
            wide, high = image.claimed or (image.width, image.height)
            space = "/DeviceRGB" if image.rgb else "/DeviceGray"
            data = zlib.compress(image.pixels())
            head = (
                f"/Type /XObject /Subtype /Image /Width {wide} /Height {high} "
                f"/ColorSpace {space} /BitsPerComponent 8 /Filter /FlateDecode"
            )
            ident = add(stream(head, data))
            x0, y0, x1, y1 = image.box
            draw = f"q {x1 - x0:g} 0 0 {y1 - y0:g} {x0:g} {y0:g} cm /Im{n} Do Q\n" * image.times
            if image.form_at:
                form = stream(
                    f"/Type /XObject /Subtype /Form /BBox [0 0 2000 2000] "
                    f"/Resources << /XObject << /Im{n} {ident} 0 R >> >>",
                    draw.encode(),
                )
                ident = add(form)
                fx, fy = image.form_at
                draw = f"q 1 0 0 1 {fx:g} {fy:g} cm /Fm{n} Do Q\n"
                xobjects.append(f"/Fm{n} {ident} 0 R")
            else:
                xobjects.append(f"/Im{n} {ident} 0 R")
            draws.append(draw)
        content = f"BT /F1 12 Tf 72 40 Td ({page.text}) Tj ET\n" + "".join(draws)
        contents = add(stream("", content.encode()))
        ox, oy = page.origin
        w, h = page.size
        page_ids.append(
            add(
                (
                    f"<< /Type /Page /Parent {pages_id_slot} 0 R "
                    f"/MediaBox [{ox:g} {oy:g} {ox + w:g} {oy + h:g}] /Rotate {page.rotate} "
                    f"/Resources << /Font << /F1 {font} 0 R >> "
                    f"/XObject << {' '.join(xobjects)} >> >> /Contents {contents} 0 R >>"
                ).encode()
            )
        )
    kids = " ".join(f"{i} 0 R" for i in page_ids)
    tree = f"<< /Type /Pages /Kids [{kids}] /Count {len(page_ids)} >>"
    objects[pages_id_slot - 1] = tree.encode()
    catalog = add(f"<< /Type /Catalog /Pages {pages_id_slot} 0 R >>".encode())
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root {catalog} 0 R >>\n".encode()
    out += f"startxref\n{xref}\n%%EOF\n".encode()
    path.write_bytes(bytes(out))
    return path
