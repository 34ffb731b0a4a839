"""What a PDF must pass before pdfq stores it, the same for the upload view and the CLI."""

from __future__ import annotations

import os
from typing import IO

from core.errors import EmptyUpload, NotAPdf, TooLarge
from core.pdf import MAGIC_WINDOW, looks_like_pdf


def check_pdf(stream: IO[bytes], limit: int) -> int:
    """The size of a seekable file that is a non-empty PDF within `limit` bytes.

    Raises EmptyUpload, TooLarge or NotAPdf (judged by the bytes, never the name); leaves
    the stream at its start.
    """
    size = stream.seek(0, os.SEEK_END)
    if size == 0:
        raise EmptyUpload()
    if size > limit:
        raise TooLarge(f"The file is {size} bytes; the limit is {limit} bytes.")
    stream.seek(0)
    if not looks_like_pdf(stream.read(MAGIC_WINDOW)):
        raise NotAPdf()
    stream.seek(0)
    return size
