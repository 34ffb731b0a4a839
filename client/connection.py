"""Where the client finds its service: PDFQ_URL and PDFQ_TOKEN, read here and nowhere else."""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

API_PATH = "/api/v1/pdf"


class ConfigurationError(Exception):
    """A missing or malformed PDFQ_URL: the command exits 2 with this message."""


class UnsafeLink(ConfigurationError):
    """The service handed back a URL the client will not open (exits 2 too)."""


def origin(url: str) -> tuple[str, str, int | None]:
    """(scheme, host, port) of `url`: where a browser would say a credential belongs."""
    parts = urlsplit(url)
    try:
        port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    except ValueError:  # a port that is not a number: no origin at all
        return "", "", None
    return parts.scheme, (parts.hostname or "").lower(), port


def loopback(host: str) -> bool:
    """Whether `host` names this machine (plain http to it never crosses a network)."""
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class Connection:
    api: str  # the API's base URL, ending in /api/v1/pdf
    token: str | None = None

    @classmethod
    def of(cls, url: str, token: str | None = None) -> Connection:
        """A connection to the deployment at `url` (its root, or its API base path)."""
        parts = urlsplit(url.strip())
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigurationError(
                f"PDFQ_URL must be the service's http(s) address, e.g. "
                f"https://pdfq.example.com, not {url!r}."
            )
        base = url.strip().rstrip("/")
        if not base.endswith(API_PATH):
            base += API_PATH
        return cls(api=base, token=(token or "").strip() or None)

    def url(self, path: str) -> str:
        """The absolute URL of an API path (`/jobs/<id>`) or of a path the API returned
        (`/api/v1/pdf/jobs/<id>`, or absolute on the API's own origin: the token goes there,
        so a link to anywhere else is refused)."""
        if not path.startswith("/") or path.startswith("//"):  # a URL, not a path
            if origin(path) != origin(self.api):
                raise UnsafeLink(
                    f"The service handed back {_shown(path)} as one of its own links, but it "
                    f"is not at PDFQ_URL's address ({self.api}); the token is never sent there."
                )
            return path
        if path.startswith(API_PATH):
            root = self.api[: -len(API_PATH)]
            return root + path
        return self.api + path

    def link(self, url: str) -> str:
        """`url` (a presigned storage URL the API handed back) when the client may open it:
        https, or plain http on the service's own host (any loopback name when the service
        is on this machine), so a PDF or its text never crosses a network in clear and no
        other scheme (file:, ftp:) is opened."""
        scheme, host, _ = origin(url)
        _, api_host, _ = origin(self.api)
        if scheme == "https" and host:
            return url
        if scheme == "http" and (host == api_host or (loopback(host) and loopback(api_host))):
            return url
        raise UnsafeLink(
            f"The service handed back {_shown(url)} to upload or download through: the client "
            "opens only https URLs, or http ones on the service's own host. The service's "
            "storage must be reachable over https (S3_PUBLIC_ENDPOINT_URL)."
        )


def _shown(url: str) -> str:
    """`url` without its query string, which may hold a signature."""
    return repr(url.split("?", 1)[0][:200])


def from_environment(environ: Mapping[str, str] | None = None) -> Connection:
    """The connection PDFQ_URL and PDFQ_TOKEN describe."""
    environ = os.environ if environ is None else environ
    url = environ.get("PDFQ_URL", "")
    if not url.strip():
        raise ConfigurationError(
            "Set PDFQ_URL to the service's address (e.g. https://pdfq.example.com), "
            "and PDFQ_TOKEN to your API token if the service asks for one."
        )
    return Connection.of(url, environ.get("PDFQ_TOKEN"))
