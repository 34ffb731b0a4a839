"""The one check a PDF must pass, wherever it arrives: not empty, within MAX_UPLOAD_BYTES, and
`%PDF-` in its first KiB (judged by the bytes, never the name).

The web checks a direct upload before storing it, an upload made straight to storage when it
is completed, and a declared size before signing; the worker checks the object again while it
downloads it, since only real S3 enforces a presigned POST's policy and an upload URL stays
valid until it expires. Every refusal is terminal: the same bytes fail the same way again.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import IO

from core.errors import EmptyUpload, NotAPdf, ObjectMissing, SourceMissing, TooLarge, WriteConflict

PDF_MAGIC = b"%PDF-"
MAGIC_WINDOW = 1024  # Readers accept the header anywhere in the first KiB.
REFUSALS = (EmptyUpload, TooLarge, NotAPdf)  # what these checks raise


def looks_like_pdf(head: bytes) -> bool:
    """True when the first KiB holds the %PDF- header."""
    return PDF_MAGIC in head[:MAGIC_WINDOW]


def check_size(size: int, limit: int, subject: str = "The file") -> int:
    """`size` if a PDF of that many bytes may be taken; EmptyUpload or TooLarge otherwise."""
    if size == 0:
        raise EmptyUpload(f"{subject} is empty.")
    return check_limit(size, limit, subject)


def check_limit(size: int, limit: int, subject: str = "The file") -> int:
    """`size` unless it is over `limit` (TooLarge)."""
    if size > limit:
        raise TooLarge(f"{subject} is {size} bytes; the limit is {limit} bytes.")
    return size


def check_head(head: bytes):
    if not looks_like_pdf(head):
        raise NotAPdf()


def check_stream(stream: IO[bytes], limit: int) -> int:
    """The size of a seekable file that passes the check; leaves the stream at its start."""
    size = check_size(stream.seek(0, os.SEEK_END), limit)
    stream.seek(0)
    check_head(stream.read(MAGIC_WINDOW))
    stream.seek(0)
    return size


def check_object(storage, key: str, limit: int) -> tuple[int, str]:
    """(size, ETag) of a stored object that passes the check, judged by a HEAD and a ranged GET
    of its first KiB (nothing more is downloaded). ObjectMissing when nothing is there."""
    head = storage.head(key)
    size = check_size(head["ContentLength"], limit)
    check_head(storage.read_head(key, MAGIC_WINDOW))
    return size, head["ETag"]


def download_checked(storage, key: str, path: Path, limit: int, etag: str | None = None) -> int:
    """Download `key` to `path` if it passes the check; its size. SourceMissing when it is gone,
    or when `etag` is given and the object is no longer that version.

    Storage's reported size is checked before anything is downloaded, and the download stops
    at `limit` bytes whatever that report said (it may be wrong, or the object changed since).
    """
    try:
        with open(path, "wb") as fp:
            storage.download_to(
                key,
                _Bounded(fp, limit),
                if_match=etag,
                check_size=lambda size: check_limit(size, limit, "The PDF"),
            )
    except ObjectMissing:
        raise SourceMissing() from None
    except WriteConflict:  # If-Match failed: someone wrote the key again after `complete`
        raise SourceMissing(
            "The uploaded PDF was replaced after its upload was completed; pdfq reads only the "
            "version it checked. Upload the new file as a new job."
        ) from None
    size = check_size(path.stat().st_size, limit, "The uploaded object")
    with open(path, "rb") as fp:
        check_head(fp.read(MAGIC_WINDOW))
    return size


class _Bounded:
    """A file writer that refuses to grow past `limit` bytes."""

    def __init__(self, fp, limit: int):
        self.fp, self.limit, self.size = fp, limit, 0

    def write(self, chunk: bytes) -> int:
        self.size += len(chunk)
        if self.size > self.limit:
            raise TooLarge(f"The PDF is over {self.limit} bytes, the limit.")
        return self.fp.write(chunk)
