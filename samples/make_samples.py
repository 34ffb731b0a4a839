"""Write the sample PDFs of this folder: `python samples/make_samples.py [folder]`.

Small text PDFs for a first try of pdfq (README: `curl -F file=@samples/report.pdf ...`),
written byte for byte by this script, so they carry no one else's licence. Standard 14 fonts
(Helvetica, not embedded) and plain ASCII: every PDF reader and each of pdfq's engines reads
them. The same script gives the same bytes (tests/test_samples.py checks the committed ones).
"""

from __future__ import annotations

import sys
from pathlib import Path

FOLDER = Path(__file__).resolve().parent
WIDTH, HEIGHT, MARGIN = 612, 792, 72  # US Letter, one-inch margins

# (font, size, text): F1 Helvetica, F2 Helvetica-Bold; one tuple per line, "" for a gap.
Line = tuple[str, int, str]

WELCOME: list[list[Line]] = [
    [
        ("F2", 20, "Welcome to pdfq"),
        ("", 0, ""),
        ("F1", 12, "This one-page PDF is a sample for a first try of the service."),
        ("F1", 12, "Upload it, poll its job, and read this text back from the result."),
        ("", 0, ""),
        ("F1", 12, "The quick brown fox jumps over the lazy dog."),
    ]
]

REPORT: list[list[Line]] = [
    [
        ("F2", 20, "Quarterly Report"),
        ("", 0, ""),
        ("F2", 14, "1. Summary"),
        ("F1", 12, "Orders grew in every region this quarter, led by the north."),
        ("F1", 12, "Costs stayed flat, so the margin rose by two points."),
        ("", 0, ""),
        ("F2", 14, "2. Highlights"),
        ("F1", 12, "- A new warehouse opened in March."),
        ("F1", 12, "- Delivery times fell from five days to three."),
        ("F1", 12, "- Returns dropped below one percent."),
    ],
    [
        ("F2", 14, "3. Regions"),
        ("F1", 12, "North: 1,240 orders, up 18 percent."),
        ("F1", 12, "South: 980 orders, up 9 percent."),
        ("F1", 12, "East: 1,105 orders, up 12 percent."),
        ("F1", 12, "West: 870 orders, up 4 percent."),
    ],
    [
        ("F2", 14, "4. Next quarter"),
        ("F1", 12, "We plan to open a second warehouse and to hire four drivers."),
        ("F1", 12, "The next report follows in three months."),
    ],
]

SAMPLES = {
    "welcome.pdf": ("Welcome to pdfq", WELCOME),
    "report.pdf": ("Quarterly Report", REPORT),
}


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def _content(lines: list[Line], page: int, pages: int) -> bytes:
    """One page's content stream: each line at the left margin, top down, and a footer."""
    ops, y = [], HEIGHT - MARGIN
    for font, size, text in lines:
        y -= max(size, 12) * 1.5
        if text:
            ops.append(f"BT /{font} {size} Tf {MARGIN} {y:.0f} Td ({_escape(text)}) Tj ET")
    footer = f"Page {page} of {pages}"
    ops.append(f"BT /F1 9 Tf {MARGIN} {MARGIN // 2} Td ({footer}) Tj ET")
    return ("\n".join(ops) + "\n").encode("ascii")


def render(title: str, pages: list[list[Line]]) -> bytes:
    """A complete PDF 1.4 file of `pages`, with Title and Author in its Info dictionary."""
    count = len(pages)
    # Objects 1 catalog, 2 pages, 3-4 fonts, 5 info, then a page and its content per page.
    kids = " ".join(f"{6 + 2 * i} 0 R" for i in range(count))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        f"<< /Type /Pages /Kids [{kids}] /Count {count} >>".encode(),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold /Encoding /WinAnsiEncoding >>",
        f"<< /Title ({_escape(title)}) /Author (pdfq samples) >>".encode(),
    ]
    for number, lines in enumerate(pages, start=1):
        content = _content(lines, number, count)
        contents = 7 + 2 * (number - 1)
        page = (
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {WIDTH} {HEIGHT}] "
            f"/Resources << /Font << /F1 3 0 R /F2 4 0 R >> >> /Contents {contents} 0 R >>"
        )
        objects.append(page.encode())
        objects.append(f"<< /Length {len(content)} >>\nstream\n".encode() + content + b"endstream")
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets)
    trailer = f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R /Info 5 0 R >>\n"
    out += f"{trailer}startxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def main(argv: list[str]) -> int:
    folder = Path(argv[0]) if argv else FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    for name, (title, pages) in SAMPLES.items():
        (folder / name).write_bytes(render(title, pages))
        print(f"{folder / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
