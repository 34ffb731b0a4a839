"""Connections to hosts that a tenant names (webhook receivers, a job's source URL).

The rule: resolve the name once, within a deadline; accept it only when every address it
gives is globally routable; then connect to those very addresses, never to a second lookup's
answer, so a DNS answer that changes between check and connect (rebinding) leads nowhere.

"Globally routable" is `ipaddress`'s `is_global` (no private, loopback, link-local, shared
100.64.0.0/10, reserved or documentation range) and not multicast, with IPv6 addresses that
carry an IPv4 address judged by that IPv4 address: IPv4-mapped (::ffff:a.b.c.d),
IPv4-translated (::ffff:0:a.b.c.d), IPv4-compatible (::a.b.c.d), NAT64's well-known prefix
(64:ff9b::/96) and 6to4 (2002::/16) reach the IPv4 address they embed. The local-use NAT64
prefix (64:ff9b:1::/48) reaches a translator of the operator's own network: never public.
"""

from __future__ import annotations

import contextlib
import http.client
import ipaddress
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

_WELL_KNOWN_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_LOCAL_NAT64 = ipaddress.ip_network("64:ff9b:1::/48")
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")
_IPV4_TRANSLATED = ipaddress.ip_network("::ffff:0:0:0/96")


MAX_URL_CHARS = 2000


@dataclass(frozen=True)
class Target:
    """Where one request goes: the URL's parts and the addresses it resolved to."""

    scheme: str
    host: str  # the name, for the Host header and TLS SNI
    port: int
    path: str  # path and query, as the request line carries them
    addresses: tuple[str, ...] = ()  # the checked addresses to connect to, in resolver order


class BadURL(ValueError):
    """A URL pdfq does not call, whatever it resolves to; the message completes "Field 'x' "."""


class Unresolved(Exception):
    """The name gave no address in time (or none at all)."""


class Refused(Exception):
    """The name gave an address that is not globally routable."""


def split_url(url) -> Target:
    """The parts of an http(s) URL, checked without a lookup (no addresses yet); BadURL."""
    if not isinstance(url, str) or len(url) > MAX_URL_CHARS:
        raise BadURL("must be an http(s) URL.")
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BadURL("must be an http(s) URL with a host.")
    if parts.username or parts.password:
        raise BadURL("must not carry credentials.")
    # HTTP clients may percent-decode a host ("x%2eevil.test") that urlsplit keeps encoded, or
    # read an IPv6 zone ("%eth0"): a host is plain letters, digits, dots and hyphens.
    if "%" in parts.netloc or any(c.isspace() or ord(c) < 32 for c in parts.netloc):
        raise BadURL("must not have '%' or spaces in its host.")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise BadURL("has a port that is not a number.") from None
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return Target(parts.scheme, parts.hostname, port, path)


def embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address leads to, for the forms that carry one."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in _WELL_KNOWN_NAT64 or ip in _IPV4_COMPATIBLE or ip in _IPV4_TRANSLATED:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def allowed(address: str) -> bool:
    """True for a globally routable unicast address (one that embeds IPv4 judged by it)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False  # a scoped IPv6 address ("fe80::1%eth0") is link-local anyway
    if isinstance(ip, ipaddress.IPv6Address):
        if ip in _LOCAL_NAT64:
            return False
        ip = embedded_ipv4(ip) or ip
    return ip.is_global and not ip.is_multicast


def resolve(host: str, port: int, timeout: float, allow_private: bool = False) -> tuple[str, ...]:
    """Every address of `host`, in the resolver's order, looked up once in at most `timeout`
    seconds; Unresolved when none came in time, Refused when one is not allowed (unless
    `allow_private`)."""
    addresses = tuple(dict.fromkeys(info[4][0] for info in _lookup(host, port, timeout)))
    if not addresses:
        raise Unresolved(f"{host} has no address")
    if not allow_private and not all(map(allowed, addresses)):
        raise Refused(f"{host} resolves to an address that is not public")
    return addresses


def _lookup(host: str, port: int, timeout: float) -> list:
    """getaddrinfo, which has no timeout of its own, in a thread that is waited for at most
    `timeout` seconds (a stalled resolver then ends that thread alone, later)."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        pass
    else:  # a literal address: nothing to ask a resolver
        return socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    answer: dict = {}
    done = threading.Event()

    def ask():
        try:
            answer["infos"] = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, ValueError, UnicodeError) as error:
            answer["error"] = error
        finally:
            done.set()

    threading.Thread(target=ask, name="pdfq-egress-lookup", daemon=True).start()
    if not done.wait(max(timeout, 0)):
        raise Unresolved(f"{host} did not resolve within {timeout:g} s")
    if "error" in answer:
        raise Unresolved(f"{host} does not resolve: {answer['error']}")
    return answer["infos"]


def connect(addresses: tuple[str, ...], port: int, deadline: float) -> socket.socket:
    """A connection to the first of `addresses` that takes one; each try gets an equal share
    of the time left before `deadline` (time.monotonic()), so one silent address cannot use
    up another's. Raises the last error when none does."""
    error: OSError = TimeoutError("no time left to connect")
    for index, address in enumerate(addresses):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        share = max(remaining / (len(addresses) - index), 0.001)
        try:
            return socket.create_connection((address, port), timeout=share)
        except OSError as failed:
            error = failed
    raise error


def open_connection(target: Target, deadline: float) -> http.client.HTTPConnection:
    """An HTTP(S) connection to `target`'s checked addresses (connected on first use, before
    `deadline`), with the name in the Host header and, over TLS, in SNI and the certificate
    check."""
    if target.scheme == "https":
        return _PinnedHTTPS(target, deadline)
    return _PinnedHTTP(target, deadline)


def cut(connection: http.client.HTTPConnection):
    """Shut the connection's socket so any read or write in progress returns (a deadline's
    watchdog: the socket's own timeout bounds each wait, not their sum)."""
    sock = connection.sock
    if sock is not None:
        with contextlib.suppress(OSError):  # already closed
            sock.shutdown(socket.SHUT_RDWR)


class _PinnedHTTP(http.client.HTTPConnection):
    def __init__(self, target: Target, deadline: float):
        super().__init__(target.host, target.port, timeout=max(deadline - time.monotonic(), 0.001))
        self._target, self._deadline = target, deadline

    def connect(self):
        self.sock = connect(self._target.addresses, self._target.port, self._deadline)


class _PinnedHTTPS(http.client.HTTPSConnection):
    def __init__(self, target: Target, deadline: float):
        context = ssl.create_default_context()
        timeout = max(deadline - time.monotonic(), 0.001)
        super().__init__(target.host, target.port, timeout=timeout, context=context)
        self._target, self._deadline, self._context = target, deadline, context

    def connect(self):
        sock = connect(self._target.addresses, self._target.port, self._deadline)
        self.sock = self._context.wrap_socket(sock, server_hostname=self._target.host)
