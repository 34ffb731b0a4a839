"""The messages between the worker and a sandbox child: JSON, length-prefixed, on one socket.

JSON, not pickle: the child reads untrusted PDFs, and a child that a PDF took over must not
be able to run code in the worker through what it sends. The worker reads without blocking
(a child that sends half a message and stops holds nothing), and refuses a message over
MAX_MESSAGE_BYTES: messages are small, the pages go through a file.
"""

from __future__ import annotations

import json
import select
import socket
import struct
import time

HEADER = struct.Struct(">I")
MAX_MESSAGE_BYTES = 4 * 2**20


class WireError(Exception):
    """The other side sent something that is not a message: treated as a crash."""


class Channel:
    """One end of a socketpair, carrying JSON lists."""

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self._buffer = bytearray()

    def fileno(self) -> int:
        return self.sock.fileno()

    def close(self):
        self.sock.close()

    def send(self, *message) -> None:
        data = json.dumps(message).encode()
        self.sock.sendall(HEADER.pack(len(data)) + data)

    # --- the child's side: it trusts the worker, and blocks ---

    def waiting(self, timeout: float) -> bool:
        """Whether anything of a message has come, waiting up to `timeout` seconds for it."""
        return bool(self._buffer) or bool(select.select([self.sock], [], [], timeout)[0])

    def recv_blocking(self) -> list:
        header = self._read_exactly(HEADER.size)
        return json.loads(self._read_exactly(HEADER.unpack(header)[0]))

    def _read_exactly(self, size: int) -> bytes:
        while len(self._buffer) < size:
            chunk = self.sock.recv(max(65536, size - len(self._buffer)))
            if not chunk:
                raise EOFError
            self._buffer += chunk
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        return data

    # --- the worker's side: never blocks longer than asked ---

    def poll(self, timeout: float) -> bool:
        """Whether a whole message is here, waiting up to `timeout` seconds for one; EOFError
        when the child is gone with nothing left to read."""
        deadline = time.monotonic() + timeout
        while not self._complete():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            readable, _, _ = select.select([self.sock], [], [], remaining)
            if not readable:
                return False
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError
            self._buffer += chunk
        return True

    def recv(self) -> list:
        """The next whole message (after poll() said one is here)."""
        size = HEADER.unpack(self._buffer[: HEADER.size])[0]
        data = bytes(self._buffer[HEADER.size : HEADER.size + size])
        del self._buffer[: HEADER.size + size]
        try:
            message = json.loads(data)
        except ValueError as exc:
            raise WireError(f"not JSON: {exc}") from None
        if not isinstance(message, list) or not message or not isinstance(message[0], str):
            raise WireError("not a message")
        return message

    def _complete(self) -> bool:
        if len(self._buffer) < HEADER.size:
            return False
        size = HEADER.unpack(self._buffer[: HEADER.size])[0]
        if size > MAX_MESSAGE_BYTES:
            raise WireError(f"a message of {size} bytes")
        return len(self._buffer) >= HEADER.size + size
