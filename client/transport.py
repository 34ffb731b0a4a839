"""HTTP for the client: one request, its retries, and the API's errors as exceptions.

429 and 503 are retried after the answer's Retry-After (the API sends it with both); a
dropped connection, 502 and 504 only when the request is safe to send twice (reads, the PUT
of a presigned upload, a POST carrying an Idempotency-Key). A redirect is followed only to
http(s), and never carries the token (or a cookie) to another origin.
"""

from __future__ import annotations

import email.utils
import http.client
import json
import shutil
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import Message
from typing import BinaryIO, Protocol

from client.connection import origin

USER_AGENT = "pdfq-client/1"
CHUNK = 64 * 1024
BUSY = {429, 503}  # the service says: not now, try again after Retry-After
GATEWAY = {502, 504}  # a proxy in front of the service gave up


class ApiError(Exception):
    """The API answered with an error: its status and `{"error": {"code", "message"}}`."""

    def __init__(self, status: int, code: str, message: str, retry_after: float | None = None):
        super().__init__(f"{code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.retry_after = retry_after


class Unreachable(Exception):
    """No answer: the address is wrong, the network or the service is down."""


class NotAStream(Exception):
    """An answer to an event stream's request that is not `text/event-stream` (a proxy's page,
    a service without streams)."""


class Payload(Protocol):
    """A request body that can be sent again: its length, and a fresh reader each time."""

    length: int

    def open(self) -> BinaryIO: ...


@dataclass
class Response:
    status: int
    headers: Message
    body: bytes = b""

    def json(self):
        return json.loads(self.body)


@dataclass
class Retries:
    attempts: int = 8  # tries after the first
    max_delay: float = 120.0  # a longer Retry-After is cut to this
    notify: Callable[[str], None] = field(default=lambda message: None)
    sleep: Callable[[float], None] = time.sleep


class _Counted:
    """A reader that reports every block it hands to the socket."""

    def __init__(self, reader: BinaryIO, progress: Callable[[int], None] | None):
        self.reader = reader
        self.progress = progress

    def read(self, size: int = -1) -> bytes:
        block = self.reader.read(size)
        if self.progress and block:
            self.progress(len(block))
        return block


# Headers that prove who the caller is: they stay with the origin they were meant for.
CREDENTIALS = ("Authorization", "Cookie", "Proxy-authorization")


class _Redirects(urllib.request.HTTPRedirectHandler):
    """urllib's redirects (it copies every header to the new URL), but only to http(s) and
    without credentials once the origin changes (another host, port, or scheme)."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        new = super().redirect_request(req, fp, code, msg, headers, newurl)
        if new is None:
            return None
        if origin(new.full_url)[0] not in ("http", "https"):
            raise urllib.error.HTTPError(newurl, code, f"redirect to {newurl!r}", headers, fp)
        if origin(new.full_url) != origin(req.full_url):
            for name in CREDENTIALS:
                new.remove_header(name)
        return new


_OPENER = urllib.request.build_opener(_Redirects)


def retry_after(headers: Message | None) -> float | None:
    """Seconds a Retry-After header asks for (delta-seconds or an HTTP date)."""
    value = (headers or {}).get("Retry-After")
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def error_of(status: int, headers: Message, body: bytes) -> ApiError:
    """The ApiError an error answer describes (a proxy's HTML page becomes `http_<status>`)."""
    code, message = f"http_{status}", body[:200].decode("utf-8", "replace").strip()
    try:
        error = json.loads(body)["error"]
        code, message = error["code"], error["message"]
    except (ValueError, KeyError, TypeError):
        pass
    return ApiError(status, code, message or f"HTTP {status}", retry_after(headers))


def send(
    method: str,
    url: str,
    *,
    body: bytes | Payload | None = None,
    headers: dict[str, str] | None = None,
    safe: bool = False,
    retries: Retries | None = None,
    progress: Callable[[int], None] | None = None,
    sink: BinaryIO | None = None,
    timeout: float = 60.0,
) -> Response:
    """Send a request until it gets an answer that is not "busy"; raise ApiError for 4xx/5xx.

    `sink` receives a successful answer's body as it arrives (the Response then has none);
    `progress` is told how many bytes of the body went out.
    """
    retries = retries or Retries()
    tries = 0
    while True:
        try:
            return _once(method, url, body, headers or {}, progress, sink, timeout)
        except ApiError as error:
            again = error.status in BUSY or (safe and error.status in GATEWAY)
            if not again or tries >= retries.attempts:
                raise
            delay = error.retry_after if error.retry_after is not None else 2.0**tries
            reason = f"{error.status} {error.code}"
        except Unreachable as error:
            if not safe or tries >= retries.attempts:
                raise
            delay, reason = 2.0**tries, str(error)
        tries += 1
        delay = min(delay, retries.max_delay)
        retries.notify(f"{reason}; trying again in {delay:g} s ({tries}/{retries.attempts})")
        retries.sleep(delay)


def _once(method, url, body, headers, progress, sink, timeout) -> Response:
    data, length = body, None
    if body is not None and not isinstance(body, bytes):
        data, length = _Counted(body.open(), progress), body.length
    elif body is not None:
        length = len(body)
    # The URL is PDFQ_URL's (its scheme checked there) or one the API handed out.
    request = urllib.request.Request(url, data=data, method=method)  # noqa: S310
    request.add_header("User-Agent", USER_AGENT)
    for name, value in headers.items():
        request.add_header(name, value)
    if length is not None:
        request.add_header("Content-Length", str(length))
    try:
        with _OPENER.open(request, timeout=timeout) as answer:
            if sink is not None:
                shutil.copyfileobj(answer, sink, CHUNK)
                return Response(answer.status, answer.headers)
            received = answer.read()
            if isinstance(body, bytes) and progress:
                progress(len(body))
            return Response(answer.status, answer.headers, received)
    except urllib.error.HTTPError as error:
        raise error_of(error.code, error.headers, error.read()) from None
    except (OSError, http.client.HTTPException) as error:  # URLError, resets, timeouts
        reason = getattr(error, "reason", error)
        raise Unreachable(f"cannot reach {url.split('?')[0]}: {reason}") from None
    finally:
        if data is not None and not isinstance(data, bytes):
            data.reader.close()


def open_stream(url: str, *, headers: dict[str, str], timeout: float):
    """The open answer of a Server-Sent Events request (read its lines, then close it);
    ApiError for an error answer, NotAStream for an answer of another type."""
    # The URL is PDFQ_URL's (its scheme checked there).
    request = urllib.request.Request(url, method="GET")  # noqa: S310
    request.add_header("User-Agent", USER_AGENT)
    request.add_header("Accept", "text/event-stream")
    for name, value in headers.items():
        request.add_header(name, value)
    try:
        answer = _OPENER.open(request, timeout=timeout)
    except urllib.error.HTTPError as error:
        raise error_of(error.code, error.headers, error.read()) from None
    except (OSError, http.client.HTTPException) as error:
        reason = getattr(error, "reason", error)
        raise Unreachable(f"cannot reach {url.split('?')[0]}: {reason}") from None
    if answer.headers.get_content_type() != "text/event-stream":
        answer.close()
        raise NotAStream(f"{url.split('?')[0]} answered {answer.headers.get_content_type()}")
    return answer
