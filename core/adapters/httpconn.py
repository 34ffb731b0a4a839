"""Keep-alive HTTP/1.1 connections to one host, shared by threads, and their answers: the
transport of core/adapters/s3http.py, on the standard library's http.client.

http.client costs about two thirds of urllib3's CPU per request, and what urllib3 adds is not
needed here: one host, no redirects, no proxies, retries decided above. What it does keep:
a connection is never handed to two requests at once (an answer whose body is streamed keeps
its connection until read or closed), a connection the server closed while idle is not
reused, TLS is verified, connecting has its own timeout, and Nagle's delay is off.
"""

from __future__ import annotations

import http.client
import os
import select
import socket
import ssl
import weakref
from collections.abc import Iterator
from typing import IO

# What a failed exchange raises: a socket error (refused, reset, timed out, TLS) or a
# malformed or missing answer.
FAILURES = (OSError, http.client.HTTPException)
_BLOCK = 64 * 1024  # bytes per send() of a file body (http.client's 8 KiB costs more calls)


class Answer:
    """A status, headers (lower-case names) and a body: `data` when read with the answer,
    else read through `chunks` (the connection is held until then)."""

    __slots__ = ("status", "reason", "headers", "data", "_raw", "_conn", "_pool")

    def __init__(self, raw: http.client.HTTPResponse, conn, pool: Connections, preload: bool):
        self.status, self.reason = raw.status, raw.reason
        self.headers = {name.lower(): value for name, value in raw.getheaders()}
        self._raw, self._conn, self._pool = raw, conn, pool
        self.data = b""
        if preload:
            self.data = raw.read()
            self._release()

    def chunks(self, size: int) -> Iterator[bytes]:
        """The body, `size` bytes at a time; the connection goes back to the pool when the
        body was read to its end, and is closed if the reader stops before (or it fails)."""
        try:
            while chunk := self._raw.read(size):
                yield chunk
        except BaseException:  # GeneratorExit included: the rest must not reach the next request
            self.close()
            raise
        self._release()

    def read(self) -> bytes:
        """The rest of a streamed body (an error answer's, say), the connection released."""
        try:
            data = self._raw.read()
        except BaseException:
            self.close()
            raise
        self._release()
        return data

    def close(self):
        """Drop the connection with the unread rest of the body."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _release(self):
        if self._conn is not None:
            self._pool.put(self._conn)
            self._conn = None


class Connections:
    """Idle connections to one host (a last-in-first-out list: the most recently used one is
    the likeliest to be still open), taken by one request at a time; safe between threads
    (list.pop and list.append are atomic) and across a fork (a child starts its own)."""

    def __init__(
        self,
        scheme: str,
        host: str,
        port: int | None,
        *,
        connect_timeout: float,
        read_timeout: float,
        ca_bundle: str | None = None,
        size: int = 10,
    ):
        self.host, self.port, self.size = host, port, size
        self.connect_timeout, self.read_timeout = connect_timeout, read_timeout
        self._tls = ssl.create_default_context(cafile=ca_bundle) if scheme == "https" else None
        self._idle: list[http.client.HTTPConnection] = []
        self._pid = os.getpid()
        weakref.finalize(self, _close_all, self._idle)  # a client dropped closes its sockets

    def exchange(
        self,
        method: str,
        target: str,
        headers: dict[str, str],
        body: bytes | IO[bytes] | None,
        *,
        preload: bool,
    ) -> Answer:
        """Send one request and read its answer's status and headers (and, with preload, its
        body). Raises one of FAILURES, the connection then closed."""
        conn = self._take()
        try:
            if conn.sock is None:
                conn.connect()  # under the connect timeout
                conn.sock.settimeout(self.read_timeout)
                conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn.request(method, target, body=body, headers=headers)
            return Answer(conn.getresponse(), conn, self, preload)
        except BaseException:
            conn.close()
            raise

    def put(self, conn: http.client.HTTPConnection):
        if len(self._idle) < self.size and self._pid == os.getpid():
            self._idle.append(conn)
        else:
            conn.close()

    def _take(self) -> http.client.HTTPConnection:
        if self._pid != os.getpid():  # a forked child must not share its parent's sockets
            self._idle.clear()
            self._pid = os.getpid()
        while True:
            try:
                conn = self._idle.pop()
            except IndexError:
                break
            if conn.sock is None or not _dropped(conn.sock):
                return conn
            conn.close()  # the server closed it while it was idle
        if self._tls is not None:
            return http.client.HTTPSConnection(
                self.host,
                self.port,
                timeout=self.connect_timeout,
                context=self._tls,
                blocksize=_BLOCK,
            )
        return http.client.HTTPConnection(
            self.host, self.port, timeout=self.connect_timeout, blocksize=_BLOCK
        )


def _close_all(idle: list[http.client.HTTPConnection]):
    while idle:
        idle.pop().close()


def _dropped(sock: socket.socket) -> bool:
    """True when an idle connection has something to read: the server's close (or garbage)."""
    poll = select.poll()
    poll.register(sock, select.POLLIN)
    return bool(poll.poll(0))
