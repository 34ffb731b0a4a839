"""A job's `source_url`, fetched by the worker (never the web process) into a local file.

The webhook's address rule (core/egress.py) holds for every hop: the host is resolved once,
every address it gives must be globally routable (SOURCE_ALLOW_PRIVATE lifts that for tests
and private networks), and the request goes to those very addresses, so a DNS answer that
changes between check and connect leads nowhere. Redirects are followed at most
MAX_REDIRECTS times, each target checked like the first. One deadline,
SOURCE_FETCH_TIMEOUT, bounds the whole fetch (lookups, redirects, the download); a watchdog
shuts the socket when it passes, so a server that dribbles bytes is cut off. The download
stops at MAX_UPLOAD_BYTES whatever Content-Length said, and the bytes must be a PDF.

What fails is a coded error: the address rule, too many redirects or a scheme other than
http(s) is `source_not_allowed`, a 4xx is `source_rejected`, both terminal with `too_large`,
`not_a_pdf` and `empty_file`; no answer in time, no connection or a 5xx (and 408, 429) is
`source_unavailable`, retried like a storage outage. Messages name the host and the HTTP
status, never an address or the network's own error (which would tell a tenant what is
behind the worker); the worker's log keeps the detail.
"""

from __future__ import annotations

import http.client
import logging
import threading
import time
from pathlib import Path
from urllib.parse import urljoin

from core import egress
from core.errors import SourceNotAllowed, SourceRejected, SourceUnavailable, TooLarge
from core.jobs import pdfcheck
from core.settings import Settings

log = logging.getLogger("pdfq.consumer")
MAX_REDIRECTS = 5
REDIRECTS = (301, 302, 303, 307, 308)
RETRYABLE = (408, 425, 429)  # besides every 5xx: the server asks to be tried again
CHUNK = 64 * 1024
HEADERS = {"User-Agent": "pdfq-fetch", "Accept": "application/pdf, */*;q=0.5"}


def fetch(url: str, path: Path, settings: Settings) -> int:
    """Download the PDF at `url` to `path`; its size. Raises the errors the module's
    docstring lists."""
    deadline = time.monotonic() + settings.source_fetch_timeout
    limit = settings.max_upload_bytes
    for _ in range(MAX_REDIRECTS + 1):
        target = _resolved(url, deadline, settings.source_allow_private)
        location = _get(target, path, limit, deadline)
        if location is None:
            break
        url = urljoin(url, location)
    else:
        raise SourceNotAllowed(f"The source URL redirected more than {MAX_REDIRECTS} times.")
    size = pdfcheck.check_size(path.stat().st_size, limit, "The PDF at source_url")
    with open(path, "rb") as fp:
        pdfcheck.check_head(fp.read(pdfcheck.MAGIC_WINDOW))
    return size


def _resolved(url: str, deadline: float, allow_private: bool) -> egress.Target:
    try:
        target = egress.split_url(url)
    except egress.BadURL as problem:
        raise SourceNotAllowed(f"The source URL (or a redirect) {problem}") from None
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise SourceUnavailable("The source URL did not answer within SOURCE_FETCH_TIMEOUT.")
    try:
        addresses = egress.resolve(target.host, target.port, remaining, allow_private)
    except egress.Refused:
        raise SourceNotAllowed(
            f"{target.host} resolves to an address that is not public "
            "(SOURCE_ALLOW_PRIVATE allows private ones)."
        ) from None
    except egress.Unresolved as problem:
        log.warning("source lookup failed: %s", problem)
        raise SourceUnavailable(f"Cannot resolve {target.host} just now.") from None
    return egress.Target(target.scheme, target.host, target.port, target.path, addresses)


def _get(target: egress.Target, path: Path, limit: int, deadline: float) -> str | None:
    """GET `target` into `path`; the Location of a redirect (nothing written), or None once
    the body is in the file."""
    connection = egress.open_connection(target, deadline)
    watchdog = threading.Timer(max(deadline - time.monotonic(), 0.001), egress.cut, [connection])
    watchdog.daemon = True
    watchdog.start()
    try:
        connection.request("GET", target.path, headers=HEADERS)
        response = connection.getresponse()
        if response.status in REDIRECTS and response.getheader("Location"):
            return response.getheader("Location")
        _check_status(target, response.status)
        declared = response.getheader("Content-Length")
        if declared and declared.isdigit():
            pdfcheck.check_limit(int(declared), limit, "The PDF at source_url")
        _save(response, path, limit)
        if time.monotonic() > deadline:
            raise TimeoutError("the body came after the deadline")
        return None
    except (OSError, http.client.HTTPException) as error:
        log.warning("source fetch from %s failed: %s: %s", target.host, type(error).__name__, error)
        if time.monotonic() >= deadline:
            raise SourceUnavailable(
                f"{target.host} did not send the PDF within SOURCE_FETCH_TIMEOUT."
            ) from None
        raise SourceUnavailable(f"{target.host} could not be reached, or broke off.") from None
    finally:
        watchdog.cancel()
        connection.close()


def _check_status(target: egress.Target, status: int):
    if 200 <= status < 300:
        return
    if status >= 500 or status in RETRYABLE:
        raise SourceUnavailable(f"{target.host} answered HTTP {status}; it is tried again.")
    raise SourceRejected(f"{target.host} answered HTTP {status} for the source URL.")


def _save(response: http.client.HTTPResponse, path: Path, limit: int):
    """The body into `path`, refused once it passes `limit` bytes."""
    size = 0
    with open(path, "wb") as fp:
        while chunk := response.read(CHUNK):
            size += len(chunk)
            if size > limit:
                raise TooLarge(f"The PDF at source_url is over {limit} bytes, the limit.")
            fp.write(chunk)
