"""Where the client finds its service: PDFQ_URL and PDFQ_TOKEN, read here and nowhere else."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

API_PATH = "/api/v1/pdf"


class ConfigurationError(Exception):
    """A missing or malformed PDFQ_URL: the command exits 2 with this message."""


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
        (`/api/v1/pdf/jobs/<id>`, or already absolute)."""
        if path.startswith(("http://", "https://")):
            return path
        if path.startswith(API_PATH):
            root = self.api[: -len(API_PATH)]
            return root + path
        return self.api + path


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
