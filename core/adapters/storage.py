"""The S3-compatible object store: put/get/head/delete/copy/list/presign, and the bucket's own
configuration for provisioning (`configure`), with every client made on first use.

The requests every job makes (objects read, written, copied, deleted; one page of a listing)
go through core/adapters/s3http.py, a small SigV4 client that costs a third of botocore's
CPU per request. boto3 keeps what is rare or local: presigning, multipart uploads, bucket
configuration and capability probing. Two boto3 clients: one for pdfq's own calls
(S3_ENDPOINT_URL) and one that signs URLs for browsers (S3_PUBLIC_ENDPOINT_URL), because a
presigned PUT URL signs the host it names.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import email.utils
import io
import json
import threading
import time
from collections.abc import Callable, Iterator
from typing import IO, Any
from urllib.parse import urlsplit

import boto3
import botocore.session
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.credentials import ReadOnlyCredentials
from botocore.exceptions import BotoCoreError, ClientError
from botocore.httpsession import get_cert_path

from core import keys
from core.adapters import s3http, sigv4
from core.adapters.capabilities import Capabilities, probe
from core.errors import ObjectMissing, StorageUnavailable, StoreRefused, WriteConflict
from core.settings import Settings

_MISSING_CODES = {"404", "NoSuchKey", "NotFound"}
_CONFLICT_CODES = {"PreconditionFailed", "ConditionalRequestConflict"}
_REFUSED_CODES = {"AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch"}
_BUSY_CODES = {"SlowDown", "ServiceUnavailable", "RequestTimeout"}
# Answers of AWS to a request signed for another region than the bucket's (a HEAD's is a
# bare 400 or 301), each with the bucket's region in x-amz-bucket-region.
_WRONG_REGION_CODES = {"AuthorizationHeaderMalformed", "PermanentRedirect", "IncorrectEndpoint"}
# A GET racing a PUT of the same key can return a torn body on some stores (s3rver: empty):
# read again this many times, a little later each time, before calling storage unavailable.
_TORN_READ_PAUSES = (0.05, 0.1, 0.2, 0.4, 0.8, 1.5)
# 8 MiB parts, two at a time: a web worker holds at most ~16 MiB of an upload in memory.
_TRANSFER = TransferConfig(multipart_chunksize=8 * 1024 * 1024, max_concurrency=2)
# s3transfer reads up to 10 parts ahead into memory (80 MiB with 8 MiB parts); one, plus
# the part each of the 2 threads sends, keeps a web worker flat during a large upload.
_TRANSFER.max_in_memory_upload_chunks = 1


def _unavailable(exc: Exception, what: str) -> StorageUnavailable:
    if isinstance(exc, s3http.S3Error):
        reason = f"{exc.status} {exc.code}"
    elif isinstance(exc, s3http.Unreachable):
        reason = exc.reason
    else:
        reason = type(exc).__name__
    return StorageUnavailable(
        f"Object storage unreachable while trying to {what} ({reason}): "
        "is the S3 endpoint up and are the credentials right?"
    )


class Storage:
    """One bucket. Every outage surfaces as StorageUnavailable, a missing key as ObjectMissing."""

    def __init__(self, settings: Settings, keys: tuple[str, str] | None = None):
        """`keys`: (access key id, secret) to sign with instead of the AWS credential chain
        (a bucket granted in another store: core/adapters/granted.py)."""
        self.bucket = settings.s3_bucket
        self._settings = settings
        self._keys = keys
        self._client = None
        self._http: s3http.S3Client | None = None
        # Presigned URLs and form policies are signed here, as the requests are: no boto3.
        self._presigner = sigv4.Presigner(sigv4.Signer(settings.s3_region))
        self._lock = threading.Lock()
        self._capabilities: Capabilities | None = None
        self.capabilities_source = ""  # "recorded" (by provisioning) or "probed" (by us)

    @property
    def client(self):
        """The boto3 client, built on first use (never at import time)."""
        if self._client is None:
            with self._lock:
                if self._client is None:
                    self._client = self._make_client(self._settings.s3_endpoint_url)
        return self._client

    def _make_client(self, endpoint_url: str):
        config = Config(
            # Two retries (botocore's max_attempts counts retries), as core/adapters/s3http.py.
            retries={"max_attempts": 2, "mode": "standard"},
            connect_timeout=5,
            read_timeout=60,
            signature_version="s3v4",
            s3={"addressing_style": "path"} if endpoint_url else {},
        )
        signing = {}
        if self._keys:
            signing = {"aws_access_key_id": self._keys[0], "aws_secret_access_key": self._keys[1]}
        return boto3.client(
            "s3",
            endpoint_url=endpoint_url or None,
            region_name=self._settings.s3_region,
            config=config,
            **signing,
        )

    @property
    def http(self) -> s3http.S3Client:
        """The client of the per-job requests (core/adapters/s3http.py), built on first use;
        its credentials come from boto3's chain when the first request is signed."""
        if self._http is None:
            with self._lock:
                if self._http is None:
                    session = botocore.session.get_session()
                    self._http = s3http.S3Client(
                        bucket=self.bucket,
                        region=self._settings.s3_region,
                        endpoint_url=self._settings.s3_endpoint_url,
                        credentials=_fixed(*self._keys) if self._keys else _chain(session),
                        ca_bundle=session.get_config_variable("ca_bundle") or get_cert_path(True),
                    )
        return self._http

    def _request(self, what: str, key: str, send: Callable, *args, **kwargs):
        """`send(*args, **kwargs)` on the http client, a store's refusal or absence mapped to
        pdfq's errors (an answer no rule covers is raised as boto3's ClientError)."""
        try:
            return send(*args, **kwargs)
        except s3http.Unreachable as exc:
            raise _unavailable(exc, what) from exc
        except s3http.S3Error as exc:
            code = exc.code
            if code in _MISSING_CODES:
                raise ObjectMissing(key) from exc
            if code in _CONFLICT_CODES:
                raise WriteConflict(key) from exc
            if code == "NoSuchBucket":
                raise StorageUnavailable(
                    f"Bucket {self.bucket!r} does not exist: run `python -m infra.provision`."
                ) from exc
            if code in _REFUSED_CODES:
                raise StorageUnavailable(
                    f"Object storage refused pdfq ({code}) while trying to {what}: "
                    "check the AWS credentials and the bucket policy."
                ) from exc
            wrong_region = code in _WRONG_REGION_CODES or exc.status in (301, 400)
            if wrong_region and exc.region and exc.region != self._settings.s3_region:
                raise StorageUnavailable(
                    f"Bucket {self.bucket!r} is in region {exc.region}, not "
                    f"{self._settings.s3_region}: set AWS_DEFAULT_REGION={exc.region}."
                ) from exc
            if exc.status >= 500 or code in _BUSY_CODES:
                raise _unavailable(exc, what) from exc
            error = {"Error": {"Code": code, "Message": exc.message}}
            response = {**error, "ResponseMetadata": {"HTTPStatusCode": exc.status}}
            raise ClientError(response, exc.operation) from exc

    # --- writes ---

    def put_bytes(
        self,
        key: str,
        data: bytes,
        content_type: str = "application/octet-stream",
        *,
        if_match: str | None = None,
        if_absent: bool = False,
    ) -> str:
        """Write `key`; with if_match/if_absent the write raises WriteConflict on a lost race."""
        response = self._request(
            "write " + key,
            key,
            self.http.put,
            key,
            data,
            content_type=content_type,
            if_match=if_match or "",
            if_absent=if_absent,
        )
        return response.headers["etag"]

    def put_json(self, key: str, value: Any, **conditions) -> str:
        body = json.dumps(value, ensure_ascii=False, sort_keys=True).encode()
        return self.put_bytes(key, body, "application/json", **conditions)

    def upload_file(self, key: str, fileobj: IO[bytes], content_type: str, metadata: dict):
        """Stream a file object to `key` from where it stands: one PUT below the multipart
        threshold (8 MiB), boto3's multipart upload above it, so memory stays bounded."""
        size = _remaining(fileobj)
        if size is not None and size < _TRANSFER.multipart_threshold:
            self._request(
                "write " + key,
                key,
                self.http.put,
                key,
                fileobj,
                content_type=content_type,
                length=size,
                metadata=metadata,
            )
            return
        extra = {"ContentType": content_type, "Metadata": metadata}
        try:
            self.client.upload_fileobj(fileobj, self.bucket, key, ExtraArgs=extra, Config=_TRANSFER)
        except (BotoCoreError, ClientError) as exc:
            raise _unavailable(exc, "write " + key) from exc

    def delete(self, key: str):
        self._request("delete " + key, key, self.http.delete, key)

    def copy(self, source: str, key: str, *, if_match: str | None = None):
        """Server-side copy; with if_match, only while `source` is still that version."""
        if if_match:
            # A store that ignores the condition: check it ourselves just before copying
            # (a narrower window than none; docs/reliability.md).
            unchecked = not self.capabilities().copy_conditions
            if unchecked and self.etag(source) != if_match:
                raise WriteConflict(source)
        self._request("copy " + source, key, self.http.copy, source, key, if_match=if_match or "")

    # --- presigned uploads (signed locally: no request is made) ---

    def presign_post(self, key: str, *, fields: dict, conditions: list, expires: int) -> dict:
        """{"url", "fields"} of an HTML form POST whose policy carries `conditions`."""
        base_url, prefix = self._public()
        signed = self._presigner.post(
            self._signing_credentials("presign " + key),
            self.bucket,
            key,
            fields,
            conditions,
            expires,
            _now(),
        )
        return {"url": base_url + (prefix or "/"), "fields": signed}

    def presign_put(
        self,
        key: str,
        *,
        content_type: str,
        size: int | None,
        expires: int,
        headers: dict[str, str] | None = None,
    ) -> str:
        """A PUT URL; Content-Type (and Content-Length, when given, and `headers`) are signed
        headers: the client must send them as given."""
        headers = {name.lower(): value for name, value in (headers or {}).items()}
        headers["content-type"] = content_type
        if size is not None:
            headers["content-length"] = str(size)
        return self._presigned("PUT", key, headers, expires)

    def presign_get(self, key: str, *, expires: int) -> str:
        """A GET URL of `key` for a client to download it straight from storage."""
        return self._presigned("GET", key, {}, expires)

    def _presigned(self, method: str, key: str, headers: dict[str, str], expires: int) -> str:
        base_url, prefix = self._public()
        path = prefix + "/" + sigv4.quote_path(key)
        headers = {**headers, "host": urlsplit(base_url).netloc}
        credentials = self._signing_credentials("presign " + key)
        return self._presigner.url(credentials, method, base_url, path, headers, expires, _now())

    def _public(self) -> tuple[str, str]:
        """(base URL, bucket path) at the endpoint browsers reach: the public one when set."""
        settings = self._settings
        public = settings.s3_public_endpoint_url or settings.s3_endpoint_url
        return s3http.endpoint(public, self.bucket, settings.s3_region)

    def _signing_credentials(self, what: str) -> sigv4.Credentials:
        found = self.http.credentials()
        if found is None or not found.access_key:
            raise StorageUnavailable(
                f"No AWS credentials to {what} with: set AWS_ACCESS_KEY_ID and "
                "AWS_SECRET_ACCESS_KEY (or a profile or instance role)."
            )
        return found

    # --- reads ---

    def head(self, key: str) -> dict:
        """ETag, ContentLength, ContentType, LastModified and Metadata, as boto3 names them."""
        headers = self._request("read " + key, key, self.http.head, key).headers
        length, modified = headers.get("content-length"), headers.get("last-modified")
        return {
            "ETag": headers.get("etag", ""),
            "ContentLength": int(length) if length is not None else 0,
            "ContentType": headers.get("content-type", ""),
            "LastModified": email.utils.parsedate_to_datetime(modified) if modified else None,
            "Metadata": {
                name[11:]: value
                for name, value in headers.items()
                if name.startswith("x-amz-meta-")
            },
        }

    def get_bytes(self, key: str) -> bytes:
        return self._request("read " + key, key, self.http.get, key).data

    def get_with_metadata(self, key: str) -> tuple[bytes, dict[str, str]]:
        """(body, the object's user metadata) in one request."""
        response = self._request("read " + key, key, self.http.get, key)
        metadata = {
            name[11:]: value
            for name, value in response.headers.items()
            if name.lower().startswith("x-amz-meta-")
        }
        return response.data, metadata

    def read_head(self, key: str, size: int) -> bytes:
        """The first `size` bytes (a ranged GET: a large object is not downloaded)."""
        return self._request(
            "read " + key, key, self.http.get, key, byte_range=f"bytes=0-{size - 1}"
        ).data

    def get_json(self, key: str) -> tuple[Any, str]:
        """The decoded object and its ETag (for a conditional write back). A body that does
        not parse (a read torn by a concurrent write) is read again; if it still does not
        parse, storage is called unavailable: retry later, it is not a bug of the caller."""
        for pause in (*_TORN_READ_PAUSES, None):
            response = self._request("read " + key, key, self.http.get, key)
            try:
                return json.loads(response.data), response.headers["etag"]
            except ValueError:  # JSONDecodeError, UnicodeDecodeError
                if pause is None:
                    break
                time.sleep(pause)
        raise StorageUnavailable(
            f"Object storage returned {key} unreadable {len(_TORN_READ_PAUSES) + 1} times "
            "(a read racing a write, or a damaged object); try again shortly.",
            retry_after=2,
        )

    def etag(self, key: str) -> str | None:
        """The object's ETag, or None when there is no such object."""
        try:
            return self.head(key)["ETag"]
        except ObjectMissing:
            return None

    def download_to(
        self,
        key: str,
        fileobj: IO[bytes],
        *,
        if_match: str | None = None,
        check_size: Callable[[int], object] | None = None,
    ):
        """Stream `key` into an open binary file, chunk by chunk; with if_match, only that
        version (WriteConflict otherwise). `check_size` sees the size the store reports
        before any of the body is read (and may raise to refuse it), so a size check costs
        no request of its own."""
        what = "read " + key
        response = self._request(
            what, key, self.http.get, key, if_match=if_match or "", stream=True
        )
        length = response.headers.get("content-length")
        if check_size is not None and length is not None:
            try:
                check_size(int(length))
            except BaseException:
                response.close()
                raise
        with contextlib.closing(self._chunks(response, 1024 * 1024, what)) as body:
            for chunk in body:  # a write that raises closes the connection on the way out
                fileobj.write(chunk)

    def stream(self, key: str, chunk_size: int = 64 * 1024) -> Iterator[bytes]:
        """The object's body as an iterator of chunks, for responses that must not buffer; the
        request is made now (so a missing key raises here), the body read as it is iterated."""
        what = "read " + key
        response = self._request(what, key, self.http.get, key, stream=True)
        return self._chunks(response, chunk_size, what)

    def _chunks(self, response, size: int, what: str) -> Iterator[bytes]:
        try:
            yield from s3http.chunks(response, size)
        except s3http.Unreachable as exc:
            raise _unavailable(exc, what) from exc

    def list_keys(self, prefix: str):
        """Every key under `prefix`, page by page."""
        for item in self.list_objects(prefix):
            yield item["Key"]

    def list_prefixes(self, prefix: str) -> list[str]:
        """The "folders" directly under `prefix` (e.g. each tenant's `jobs/<tenant>/`)."""
        found, token = [], ""
        while True:
            page = self._list(prefix, delimiter="/", token=token)
            found += [p["Prefix"] for p in page.get("CommonPrefixes", [])]
            if not page.get("IsTruncated"):
                return found
            token = page["NextContinuationToken"]

    def list_objects(self, prefix: str):
        """Every object under `prefix` as S3 lists it (Key, LastModified, Size...)."""
        token = ""
        while True:
            page = self._list(prefix, token=token)
            yield from page.get("Contents", [])
            if not page.get("IsTruncated"):
                return
            token = page["NextContinuationToken"]

    def list_page(
        self, prefix: str, *, start_after: str | None = None, limit: int = 1000
    ) -> tuple[list[dict], bool]:
        """One listing request: up to `limit` objects under `prefix` after `start_after`, in
        key order, and whether more follow."""
        page = self._list(prefix, start_after=start_after or "", max_keys=limit)
        return page.get("Contents", []), bool(page.get("IsTruncated"))

    def list_pages(self, prefix: str, *, start_after: str = "", page_size: int = 1000):
        """The objects under `prefix` after `start_after`, a listing request's page at a time
        (`page_size` keys each), following the continuation tokens."""
        token = ""
        while True:
            page = self._list(prefix, start_after=start_after, max_keys=page_size, token=token)
            yield page.get("Contents", [])
            if not page.get("IsTruncated"):
                return
            token = page["NextContinuationToken"]

    def list_folders(self, prefix: str) -> list[str]:
        """The names one level below `prefix` that hold keys (`a/` of `prefix` + `a/b`)."""
        names, token = [], ""
        while True:
            page = self._list(prefix, delimiter="/", token=token)
            folders = page.get("CommonPrefixes", [])
            names += [p["Prefix"][len(prefix) :].rstrip("/") for p in folders]
            if not page.get("IsTruncated"):
                return names
            token = page["NextContinuationToken"]

    def _list(self, prefix: str, **page) -> dict:
        return self._request("list " + prefix, "", self.http.list, prefix, **page)

    # --- the bucket itself ---

    def capabilities(self) -> Capabilities:
        """What the store honours: as provisioning recorded it, else probed by this process
        (once; a few requests on throw-away keys)."""
        if self._capabilities is None:
            try:
                recorded, _ = self.get_json(keys.CAPABILITIES_KEY)
                self._capabilities = Capabilities.from_dict(recorded)
                self.capabilities_source = "recorded"
            except ObjectMissing:
                self._capabilities = self.probe_capabilities()
                self.capabilities_source = "probed"
        return self._capabilities

    def probe_capabilities(self) -> Capabilities:
        """Try each feature on the bucket now (core/adapters/capabilities.py)."""
        try:
            return probe(self.http, self.client, self.bucket)
        except (ClientError, s3http.S3Error) as exc:
            if isinstance(exc, ClientError):
                error = exc.response.get("Error", {})
                code, message = error.get("Code"), error.get("Message")
            else:
                code, message = exc.code, exc.message
            raise StorageUnavailable(
                "Object storage failed while pdfq probed what it honours "
                f"({code}: {message}); try again shortly."
            ) from exc
        except (BotoCoreError, s3http.Unreachable) as exc:
            raise _unavailable(exc, "probe the store's capabilities") from exc

    def record_capabilities(self, capabilities: Capabilities):
        """Write what provisioning found, for the web and the worker to read."""
        self.put_json(keys.CAPABILITIES_KEY, capabilities.to_dict())
        self._capabilities, self.capabilities_source = capabilities, "recorded"

    def ping(self):
        """Raise StorageUnavailable unless the bucket answers."""
        try:
            self._request("reach bucket " + self.bucket, "", self.http.head_bucket)
        except ObjectMissing:
            raise StorageUnavailable(
                f"Bucket {self.bucket!r} does not exist: run `python -m infra.provision`."
            ) from None

    def configure(self, what: str, method: str, missing_code: str = "", **kwargs) -> Any:
        """A call on the bucket's configuration (lifecycle, CORS, notifications, creation), for
        provisioning; None when storage answers `missing_code` (nothing is configured yet)."""
        try:
            return getattr(self.client, method)(Bucket=self.bucket, **kwargs)
        except ClientError as exc:
            error = exc.response.get("Error", {})
            if missing_code and error.get("Code") == missing_code:
                return None
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
            if status in (400, 405, 501) or error.get("Code") == "NotImplemented":
                raise StoreRefused(
                    f"Object storage refused to {what} ({error.get('Code')}: "
                    f"{error.get('Message')}): this store does not support it as pdfq asks "
                    "(docs/reliability.md, 'Stores')."
                ) from exc
            raise StorageUnavailable(
                f"Object storage refused to {what} ({error.get('Code')}: {error.get('Message')})."
            ) from exc
        except BotoCoreError as exc:
            raise _unavailable(exc, what) from exc


def _now() -> dt.datetime:
    """The time a presigned URL or policy is signed at."""
    return dt.datetime.now(dt.UTC)


def _chain(session) -> Callable[[], Any]:
    """Credentials from botocore's standard chain (environment, profile, container, instance
    role), found on the first request and frozen per request, so refreshable ones renew."""
    lock, found = threading.Lock(), []

    def credentials():
        if not found:
            with lock:
                if not found:
                    found.append(session.get_credentials())
        return found[0].get_frozen_credentials() if found[0] is not None else None

    return credentials


def _fixed(access_key: str, secret_key: str) -> Callable[[], Any]:
    frozen = ReadOnlyCredentials(access_key, secret_key, None)
    return lambda: frozen


def _remaining(fileobj: IO[bytes]) -> int | None:
    """Bytes from the file's position to its end; None when it cannot seek."""
    try:
        start = fileobj.tell()
        end = fileobj.seek(0, io.SEEK_END)
        fileobj.seek(start)
    except (AttributeError, OSError, ValueError):
        return None
    return end - start
