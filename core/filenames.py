"""A document's display name: what a client (or a key's last part) calls it, made safe to show."""

from __future__ import annotations

import unicodedata

MAX_FILENAME_CHARS = 200


def clean_filename(name: str | None) -> str:
    """A display name only (never a key): last path part, printable, bounded."""
    name = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c for c in unicodedata.normalize("NFC", name) if c.isprintable()).strip()
    if len(name) > MAX_FILENAME_CHARS:  # cut the stem, keep a short extension such as .pdf
        stem, dot, suffix = name.rpartition(".")
        suffix = f".{suffix}" if dot and stem and len(suffix) <= 10 else ""
        name = name[: MAX_FILENAME_CHARS - len(suffix)] + suffix
    return name or "upload.pdf"
