"""What counts as a PDF at the door: the %PDF- header in the first KiB."""

from __future__ import annotations

PDF_MAGIC = b"%PDF-"
MAGIC_WINDOW = 1024  # Readers accept the header anywhere in the first KiB.


def looks_like_pdf(head: bytes) -> bool:
    """True when the first KiB holds the %PDF- header."""
    return PDF_MAGIC in head[:MAGIC_WINDOW]
