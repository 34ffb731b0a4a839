"""AWS Signature Version 4 for S3 requests, signed in the Authorization header.

What botocore's S3 signer does (tests/test_sigv4.py compares the two), without its request
objects: the path is signed as sent (S3 does not normalize it), every header given is
signed, and the signing key is kept per secret and day instead of derived per request.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from typing import NamedTuple
from urllib.parse import quote

ALGORITHM = "AWS4-HMAC-SHA256"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


class Credentials(NamedTuple):
    """One frozen set of keys (botocore's ReadOnlyCredentials has the same fields)."""

    access_key: str
    secret_key: str
    token: str | None = None


def quote_path(key: str) -> str:
    """A key as it goes in a URL path and in the canonical request (`/` kept, as S3 wants)."""
    return quote(key, safe="/~")


def canonical_query(params: Mapping[str, str]) -> str:
    """The query string, each name and value encoded and sorted as SigV4 defines; sent as is."""
    pairs = sorted((quote(k, safe="-_.~"), quote(str(v), safe="-_.~")) for k, v in params.items())
    return "&".join(f"{k}={v}" for k, v in pairs)


class Signer:
    """Signs requests for one region and service; safe to share between threads."""

    def __init__(self, region: str, service: str = "s3"):
        self.region = region
        self.service = service
        self._keys: dict[tuple[str, str], bytes] = {}  # (secret, day) -> signing key

    def sign(
        self,
        credentials: Credentials,
        method: str,
        path: str,
        query: str,
        headers: dict[str, str],
        payload_hash: str,
        amz_date: str,
    ) -> None:
        """Add x-amz-date, x-amz-content-sha256, the session token (if any) and Authorization
        to `headers` (lower-case names, host included), in place. `amz_date` is
        YYYYMMDDTHHMMSSZ; `path` and `query` are exactly as they will be sent."""
        headers["x-amz-date"] = amz_date
        headers["x-amz-content-sha256"] = payload_hash
        if credentials.token:
            headers["x-amz-security-token"] = credentials.token
        names = sorted(headers)
        signed = ";".join(names)
        canonical = "\n".join(
            (
                method,
                path,
                query,
                "".join(f"{n}:{' '.join(str(headers[n]).split())}\n" for n in names),
                signed,
                payload_hash,
            )
        )
        day = amz_date[:8]
        scope = f"{day}/{self.region}/{self.service}/aws4_request"
        to_sign = "\n".join(
            (ALGORITHM, amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest())
        )
        signature = hmac.new(
            self._key(credentials.secret_key, day), to_sign.encode(), hashlib.sha256
        ).hexdigest()
        headers["authorization"] = (
            f"{ALGORITHM} Credential={credentials.access_key}/{scope}, "
            f"SignedHeaders={signed}, Signature={signature}"
        )

    def _key(self, secret: str, day: str) -> bytes:
        found = self._keys.get((secret, day))
        if found is None:
            found = ("AWS4" + secret).encode()
            for part in (day, self.region, self.service, "aws4_request"):
                found = hmac.new(found, part.encode(), hashlib.sha256).digest()
            if len(self._keys) > 8:  # a new day or rotated keys: the old ones are done
                self._keys.clear()
            self._keys[(secret, day)] = found
        return found
