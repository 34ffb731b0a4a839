"""The worker's own checks on a job's source before it spends a sandbox on it.

Presigned uploads reach storage under a policy (size range, content type) that only real S3
enforces; moto and other local stores keep whatever is sent, and an upload URL stays valid
until it expires, so the object may even change after /complete checked it. The worker
therefore judges the object itself: its size before downloading (HEAD), its size again while
downloading (S3 may report it wrongly, or it changed in between), and its first bytes.
Every failure here is terminal: the same bytes fail the same way on every retry.
"""

from __future__ import annotations

from pathlib import Path

from core.errors import EmptyUpload, NotAPdf, SourceMissing, TooLarge
from core.pdf import MAGIC_WINDOW, looks_like_pdf
from core.storage import ObjectMissing, Storage


class _Bounded:
    """A file writer that refuses to grow past `limit` bytes."""

    def __init__(self, fp, limit: int):
        self.fp, self.limit, self.size = fp, limit, 0

    def write(self, chunk: bytes) -> int:
        self.size += len(chunk)
        if self.size > self.limit:
            raise TooLarge(f"The PDF is over {self.limit} bytes, the limit.")
        return self.fp.write(chunk)


def download_checked(storage: Storage, key: str, path: Path, limit: int) -> int:
    """Download `key` to `path` if it is a non-empty PDF of at most `limit` bytes; its size.

    Raises TooLarge before downloading anything when storage reports a larger object,
    EmptyUpload, NotAPdf, or SourceMissing when the key is gone.
    """
    try:
        reported = storage.head(key)["ContentLength"]
        if reported > limit:
            raise TooLarge(f"The PDF is {reported} bytes; the limit is {limit}.")
        with open(path, "wb") as fp:
            storage.download_to(key, _Bounded(fp, limit))
    except ObjectMissing:
        raise SourceMissing() from None
    size = path.stat().st_size
    if size == 0:
        raise EmptyUpload("The uploaded object is empty.")
    with open(path, "rb") as fp:
        if not looks_like_pdf(fp.read(MAGIC_WINDOW)):
            raise NotAPdf("The uploaded object is not a PDF: no %PDF- in its first KiB.")
    return size
