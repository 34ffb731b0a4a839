"""Request bodies read from disk as they are sent: a file as is (a presigned PUT) or inside
a multipart form (POST /documents), never held in memory whole."""

from __future__ import annotations

import io
import uuid
from pathlib import Path
from typing import BinaryIO


class FileBody:
    """A file's bytes, sent as they are."""

    def __init__(self, path: Path):
        self.path = path
        self.length = path.stat().st_size

    def open(self) -> BinaryIO:
        return open(self.path, "rb")  # noqa: SIM115 - the transport closes it


class _Chain(io.RawIOBase):
    """Readers one after another, as one."""

    def __init__(self, parts: list[BinaryIO]):
        self.parts = parts

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        while self.parts:
            block = self.parts[0].read(size)
            if block:
                return block
            self.parts.pop(0).close()
        return b""

    def close(self):
        for part in self.parts:
            part.close()
        super().close()


class FormBody:
    """multipart/form-data: the text `fields`, then the file in the field `file`."""

    def __init__(self, path: Path, filename: str, fields: dict[str, str]):
        self.path = path
        boundary = uuid.uuid4().hex
        self.content_type = f"multipart/form-data; boundary={boundary}"
        # A quoted-string: backslashes and quotes escaped, no line breaks.
        quoted = filename.replace("\\", "\\\\").replace('"', '\\"')
        quoted = quoted.replace("\r", "").replace("\n", "")
        head = "".join(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
            for name, value in fields.items()
        )
        head += (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
            f'filename="{quoted}"\r\nContent-Type: application/pdf\r\n\r\n'
        )
        self.head = head.encode("utf-8")
        self.tail = f"\r\n--{boundary}--\r\n".encode()
        self.length = len(self.head) + path.stat().st_size + len(self.tail)

    def open(self) -> BinaryIO:
        return _Chain([io.BytesIO(self.head), open(self.path, "rb"), io.BytesIO(self.tail)])  # noqa: SIM115
