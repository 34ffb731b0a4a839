"""API tokens: which tenant a bearer token belongs to, knowing only each token's SHA-256.

Tokens are long random strings, so a plain SHA-256 is enough to keep them unusable if the
configuration leaks (a slow password hash protects guessable secrets, which these are not).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from core.settings import MIN_TOKEN_CHARS, TOKEN_CHARS

TOKEN_PREFIX = "pdfq_"  # noqa: S105 - not a secret: lets secret scanners (and people) recognise a leaked token


def new_token() -> str:
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    assert len(token) >= MIN_TOKEN_CHARS and TOKEN_CHARS.fullmatch(token)
    return token


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def entry(tenant: str, token: str) -> str:
    """The API_TOKENS entry for `token`, hashed, so the clear token need not be stored."""
    return f"{tenant}:sha256:{digest(token)}"


def tenant_of(token: str, table: tuple[tuple[str, str], ...]) -> str | None:
    """The tenant whose token this is, or None; compares against every entry in constant time."""
    presented = hashlib.sha256(token.encode()).digest()
    found = None
    for tenant, hex_digest in table:  # no early exit: timing says nothing about the match
        if hmac.compare_digest(presented, bytes.fromhex(hex_digest)):
            found = tenant
    return found
