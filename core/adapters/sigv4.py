"""AWS Signature Version 4 for S3: requests signed in the Authorization header, and the
presigned URLs and POST policies clients upload and download with.

What botocore's S3 signer does (tests/test_sigv4.py compares the two), without its request
objects: the path is signed as sent (S3 does not normalize it), every header given is
signed, and the signing key is kept per secret and day instead of derived per request.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import hmac
import json
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
        scope = self.scope(amz_date[:8])
        signature = self.signature(credentials.secret_key, amz_date, canonical)
        headers["authorization"] = (
            f"{ALGORITHM} Credential={credentials.access_key}/{scope}, "
            f"SignedHeaders={signed}, Signature={signature}"
        )

    def scope(self, day: str) -> str:
        return f"{day}/{self.region}/{self.service}/aws4_request"

    def signature(self, secret: str, amz_date: str, canonical: str) -> str:
        """The hex signature of a canonical request made at `amz_date`."""
        to_sign = "\n".join(
            (
                ALGORITHM,
                amz_date,
                self.scope(amz_date[:8]),
                hashlib.sha256(canonical.encode()).hexdigest(),
            )
        )
        return hmac.new(
            self.key(secret, amz_date[:8]), to_sign.encode(), hashlib.sha256
        ).hexdigest()

    def key(self, secret: str, day: str) -> bytes:
        found = self._keys.get((secret, day))
        if found is None:
            found = ("AWS4" + secret).encode()
            for part in (day, self.region, self.service, "aws4_request"):
                found = hmac.new(found, part.encode(), hashlib.sha256).digest()
            if len(self._keys) > 8:  # a new day or rotated keys: the old ones are done
                self._keys.clear()
            self._keys[(secret, day)] = found
        return found


class Presigner:
    """URLs and form policies that let a client send one request to storage without the keys:
    the query-string flavour of SigV4 (a presigned GET or PUT), and the POST policy of an
    HTML form upload. Signed locally, with what `Signer` keeps."""

    def __init__(self, signer: Signer):
        self.signer = signer

    def url(
        self,
        credentials: Credentials,
        method: str,
        base_url: str,
        path: str,
        headers: dict[str, str],
        expires: int,
        now: datetime.datetime,
    ) -> str:
        """`base_url` + `path`, signed for `expires` seconds from `now`; `headers` (lower-case
        names, host among them) are what the client must send."""
        amz_date = now.strftime("%Y%m%dT%H%M%SZ")
        scope = self.signer.scope(amz_date[:8])
        names = sorted(headers)
        params = {
            "X-Amz-Algorithm": ALGORITHM,
            "X-Amz-Credential": f"{credentials.access_key}/{scope}",
            "X-Amz-Date": amz_date,
            "X-Amz-Expires": str(expires),
            "X-Amz-SignedHeaders": ";".join(names),
        }
        if credentials.token:
            params["X-Amz-Security-Token"] = credentials.token
        query = canonical_query(params)
        canonical = "\n".join(
            (
                method,
                path,
                query,
                "".join(f"{n}:{' '.join(str(headers[n]).split())}\n" for n in names),
                ";".join(names),
                UNSIGNED_PAYLOAD,
            )
        )
        signature = self.signer.signature(credentials.secret_key, amz_date, canonical)
        return f"{base_url}{path}?{query}&X-Amz-Signature={signature}"

    def post(
        self,
        credentials: Credentials,
        bucket: str,
        key: str,
        fields: dict[str, str],
        conditions: list,
        expires: int,
        now: datetime.datetime,
    ) -> dict[str, str]:
        """The form fields of a POST upload of `key` whose policy holds `conditions` (plus the
        bucket, the key and the signature's own fields) for `expires` seconds from `now`."""
        amz_date = now.strftime("%Y%m%dT%H%M%SZ")
        signed = {
            "x-amz-algorithm": ALGORITHM,
            "x-amz-credential": f"{credentials.access_key}/{self.signer.scope(amz_date[:8])}",
            "x-amz-date": amz_date,
        }
        if credentials.token:
            signed["x-amz-security-token"] = credentials.token
        expiration = now + datetime.timedelta(seconds=expires)
        policy = {
            "expiration": expiration.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "conditions": [
                *conditions,
                {"bucket": bucket},
                {"key": key},
                *({name: value} for name, value in signed.items()),
            ],
        }
        encoded = base64.b64encode(json.dumps(policy).encode()).decode()
        key_bytes = self.signer.key(credentials.secret_key, amz_date[:8])
        signature = hmac.new(key_bytes, encoded.encode(), hashlib.sha256).hexdigest()
        return {
            **fields,
            "key": key,
            **signed,
            "policy": encoded,
            "x-amz-signature": signature,
        }
