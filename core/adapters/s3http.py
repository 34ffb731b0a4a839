"""A minimal S3 REST client for the requests every job makes: GET, PUT, HEAD, DELETE, COPY and
one page of a listing, signed with SigV4 (core/adapters/sigv4.py) and sent on keep-alive
connections (core/adapters/httpconn.py).

botocore costs over 2 ms of CPU per request in its generic machinery (models, events,
parsers); this costs a fraction of that (docs/performance.md, row o). It keeps botocore's
wire behaviour where it matters: path-style addressing on a custom endpoint and
virtual-hosted on AWS, TLS verified, 5 s to connect and 60 s to read, and the attempts of
boto3's configuration in Storage (retry mode "standard", `max_attempts` 2: two retries, three
attempts in all) with its backoff, for connection errors, 5xx, throttling and RequestTimeout.
Errors come back as S3Error (an answer) or Unreachable (none); core/adapters/storage.py maps
both.
"""

from __future__ import annotations

import hashlib
import random
import time
from collections.abc import Callable, Iterator, Mapping
from typing import IO
from urllib.parse import quote, urlsplit

from core.adapters import s3xml
from core.adapters.httpconn import FAILURES, Answer, Connections
from core.adapters.sigv4 import (
    EMPTY_SHA256,
    UNSIGNED_PAYLOAD,
    Credentials,
    Signer,
    canonical_query,
    quote_path,
)

# botocore's standard retry mode: what is worth another attempt, and its backoff.
TRANSIENT_STATUS = frozenset({500, 502, 503, 504})
TRANSIENT_CODES = frozenset(
    {"RequestTimeout", "RequestTimeoutException", "PriorRequestNotComplete"}
)
THROTTLING_CODES = frozenset(
    {
        "SlowDown",
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottled",
        "RequestThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
    }
)
_BACKOFF_SCALE = 0.05  # seconds; throttling backs off 20 times longer, as botocore does
_HASH_BLOCK = 1024 * 1024


class S3Error(Exception):
    """The store answered with an error: its HTTP status, its code (the status as text when
    the answer has no body, as for HEAD) and message, and the bucket's region when it says."""

    def __init__(self, operation: str, status: int, code: str, message: str, region: str = ""):
        super().__init__(f"{operation}: {status} {code}: {message}")
        self.operation, self.status, self.code, self.message = operation, status, code, message
        self.region = region

    @property
    def retryable(self) -> bool:
        return (
            self.status in TRANSIENT_STATUS
            or self.code in TRANSIENT_CODES
            or self.code in THROTTLING_CODES
        )


class Unreachable(Exception):
    """No answer: the connection failed, was reset, or timed out; `reason` names how."""

    def __init__(self, operation: str, reason: str):
        super().__init__(f"{operation}: {reason}")
        self.reason = reason


class NoCredentials(Unreachable):
    """The credential chain found nothing to sign with."""

    def __init__(self, operation: str):
        super().__init__(operation, "NoCredentialsError")


def endpoint(endpoint_url: str, bucket: str, region: str) -> tuple[str, str]:
    """(base URL, path prefix of the bucket): path-style on a custom endpoint, as the
    compatible stores want; virtual-hosted on AWS (path-style for a bucket name with a dot,
    which the wildcard certificate does not cover), as botocore resolves them."""
    if endpoint_url:
        parts = urlsplit(endpoint_url)
        return f"{parts.scheme}://{parts.netloc}", parts.path.rstrip("/") + "/" + bucket
    suffix = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
    host = "s3.amazonaws.com" if region == "us-east-1" else f"s3.{region}.{suffix}"
    if "." in bucket:
        return f"https://{host}", "/" + bucket
    return f"https://{bucket}.{host}", ""


def copy_source(bucket: str, key: str) -> str:
    """The x-amz-copy-source header of `key` in `bucket`."""
    return quote(f"{bucket}/{key}", safe="-._~/")


class S3Client:
    """One bucket's objects over HTTP; thread-safe (its connections are taken one request at
    a time)."""

    def __init__(
        self,
        *,
        bucket: str,
        region: str,
        endpoint_url: str,
        credentials: Callable[[], Credentials | None],
        ca_bundle: str | None = None,
        connect_timeout: float = 5.0,
        read_timeout: float = 60.0,
        attempts: int = 3,
        pool_size: int = 10,
        unsigned_streams: bool | None = None,
    ):
        """`unsigned_streams`: send a file body with UNSIGNED-PAYLOAD instead of its SHA-256
        (one pass over the file instead of two); by default only over TLS, which protects
        it in transit, as botocore does."""
        self.bucket = bucket
        self.base_url, self._prefix = endpoint(endpoint_url, bucket, region)
        self.bucket_path = self._prefix or "/"
        self.secure = self.base_url.startswith("https:")
        self.unsigned_streams = self.secure if unsigned_streams is None else unsigned_streams
        self.attempts = attempts
        self._credentials = credentials
        self._signer = Signer(region)
        parts = urlsplit(self.base_url)
        self._host = parts.netloc
        self._connections = Connections(
            parts.scheme,
            parts.hostname or "",
            parts.port,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            ca_bundle=ca_bundle,
            size=pool_size,
        )

    def credentials(self) -> Credentials | None:
        """The credentials a request would be signed with now."""
        return self._credentials()

    # --- objects ---

    def get(
        self, key: str, *, byte_range: str = "", if_match: str = "", stream: bool = False
    ) -> Answer:
        """GET `key`: the answer, its body read (or, with stream, left for its `chunks`)."""
        headers = {}
        if byte_range:
            headers["range"] = byte_range
        if if_match:
            headers["if-match"] = if_match
        return self.request("GetObject", "GET", self.path(key), headers=headers, stream=stream)

    def head(self, key: str):
        return self.request("HeadObject", "HEAD", self.path(key))

    def put(
        self,
        key: str,
        body: bytes | IO[bytes],
        *,
        content_type: str,
        length: int | None = None,
        metadata: Mapping[str, str] | None = None,
        if_match: str = "",
        if_absent: bool = False,
    ):
        """PUT bytes, or a file object from where it stands to its end (`length` bytes)."""
        headers = {"content-type": content_type}
        for name, value in (metadata or {}).items():
            headers["x-amz-meta-" + name.lower()] = value
        if if_match:
            headers["if-match"] = if_match
        if if_absent:
            headers["if-none-match"] = "*"
        return self.request(
            "PutObject", "PUT", self.path(key), headers=headers, body=body, length=length
        )

    def delete(self, key: str):
        return self.request("DeleteObject", "DELETE", self.path(key))

    def copy(self, source: str, key: str, *, if_match: str = ""):
        """Server-side copy of `source` to `key` in this bucket; the response's body read."""
        headers = {"x-amz-copy-source": copy_source(self.bucket, source)}
        if if_match:
            headers["x-amz-copy-source-if-match"] = if_match
        return self.request("CopyObject", "PUT", self.path(key), headers=headers)

    def list(
        self,
        prefix: str,
        *,
        start_after: str = "",
        max_keys: int = 0,
        delimiter: str = "",
        token: str = "",
    ) -> dict:
        """One ListObjectsV2 page, in botocore's shape: Contents (Key, LastModified, ETag,
        Size), CommonPrefixes, IsTruncated, NextContinuationToken."""
        query = {"list-type": "2", "prefix": prefix, "encoding-type": "url"}
        for name, value in (
            ("start-after", start_after),
            ("max-keys", max_keys),
            ("delimiter", delimiter),
            ("continuation-token", token),
        ):
            if value:
                query[name] = str(value)
        response = self.request("ListObjectsV2", "GET", self.bucket_path, query=query)
        return s3xml.list_page(response.data)

    def head_bucket(self):
        return self.request("HeadBucket", "HEAD", self.bucket_path)

    def path(self, key: str) -> str:
        return f"{self._prefix}/{quote_path(key)}"

    # --- one request ---

    def request(
        self,
        operation: str,
        method: str,
        path: str,
        *,
        query: Mapping[str, str] | None = None,
        headers: dict[str, str] | None = None,
        body: bytes | IO[bytes] = b"",
        length: int | None = None,
        stream: bool = False,
    ) -> Answer:
        """Send one signed request, tried again (up to `attempts` in all) where botocore would
        try again: a 2xx answer, else S3Error or Unreachable. A file body is sent from where
        it stands to its end (`length` bytes, measured when not given)."""
        query_string = canonical_query(query) if query else ""
        target = f"{path}?{query_string}" if query_string else path
        headers = dict(headers or {})
        headers["host"] = self._host
        start = None
        if isinstance(body, bytes | bytearray):
            payload = hashlib.sha256(body).hexdigest() if body else EMPTY_SHA256
        else:
            start = body.tell()
            if length is None:
                length = body.seek(0, 2) - start
                body.seek(start)
            payload = UNSIGNED_PAYLOAD if self.unsigned_streams else _file_sha256(body, start)
        for attempt in range(1, self.attempts + 1):
            credentials = self._credentials()
            if credentials is None:
                raise NoCredentials(operation)
            signed = dict(headers)
            amz_date = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
            self._signer.sign(credentials, method, path, query_string, signed, payload, amz_date)
            if start is not None:
                body.seek(start)
                signed["content-length"] = str(length)
            try:
                answer = self._connections.exchange(
                    method,
                    target,
                    signed,
                    body if body or start is not None else None,
                    preload=not stream,
                )
                if not 200 <= answer.status < 300:
                    error = _answer_error(operation, answer)
                elif operation == "CopyObject" and (failed := s3xml.error_of(answer.data)):
                    # S3 may answer 200, then fail the copy in the body (as a 500, to botocore).
                    error = S3Error(operation, 500, *failed)
                else:
                    return answer
            except FAILURES as exc:
                if attempt < self.attempts:
                    _backoff(attempt, throttled=False)
                    continue
                raise Unreachable(operation, type(exc).__name__) from exc
            if error.retryable and attempt < self.attempts:
                _backoff(attempt, throttled=error.code in THROTTLING_CODES)
                continue
            raise error
        raise AssertionError("unreachable")  # the loop returns or raises


def chunks(answer: Answer, size: int) -> Iterator[bytes]:
    """The body of a streamed answer in chunks (see Answer.chunks), a failure as Unreachable."""
    try:
        yield from answer.chunks(size)
    except FAILURES as exc:
        raise Unreachable("GetObject", type(exc).__name__) from exc


def _answer_error(operation: str, answer: Answer) -> S3Error:
    """The S3Error an error answer carries (its body read, the connection released)."""
    data = answer.data or answer.read()
    code, message = s3xml.error_of(data) or (str(answer.status), answer.reason or "")
    region = answer.headers.get("x-amz-bucket-region", "")
    return S3Error(operation, answer.status, code, message, region)


def _file_sha256(body: IO[bytes], start: int) -> str:
    """SHA-256 of `body` from `start` to its end (read once, then rewound)."""
    digest = hashlib.sha256()
    while chunk := body.read(_HASH_BLOCK):
        digest.update(chunk)
    body.seek(start)
    return digest.hexdigest()


def _backoff(attempt: int, *, throttled: bool):
    scale = 1.0 if throttled else _BACKOFF_SCALE
    time.sleep(random.random() * min(scale * 2 ** (attempt - 1), 20))  # noqa: S311 - jitter
