"""Who is calling: the tenant whose jobs a request may see."""

from __future__ import annotations

from core.keys import DEFAULT_TENANT


def current_tenant() -> str:
    """Every caller shares one tenant until API tokens exist."""
    return DEFAULT_TENANT
