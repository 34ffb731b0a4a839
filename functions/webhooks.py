"""The web's side of webhooks: a callback URL is checked when a job is created or re-run."""

from __future__ import annotations

from core import webhooks
from core.settings import get_settings


def checked_url(url) -> str:
    """The URL if it may be called back (http(s), public unless allowed); 400 otherwise."""
    return webhooks.check_url(url, get_settings())
