"""What an S3-compatible store honours, found by trying it on the bucket itself.

Stores differ: AWS S3 refuses a conditional write that lost (412); s3rver and some other
compatible stores accept `If-None-Match: *`, a stale `If-Match` and `CopySourceIfMatch`
with 200, or answer `NotImplemented` for lifecycle rules and notifications. `probe` tries
each on throw-away keys under `store/`, the conditional requests with the client that sends
them for every job (core/adapters/s3http.py), the bucket's configuration with boto3;
provisioning writes the result to
`store/capabilities.json`, where the web and the worker read it (the store being described
keeps its own description, so it survives a Redis wipe). docs/reliability.md says what pdfq
does where a store lacks one.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable

from botocore.exceptions import ClientError

from core import keys
from core.adapters.s3http import S3Client, S3Error
from core.clock import utcnow

FEATURES = (
    "conditional_create",  # PUT If-None-Match: * refused when the key exists
    "conditional_replace",  # PUT If-Match refused when the ETag moved on
    "copy_conditions",  # CopySourceIfMatch refused when the source changed
    "lifecycle",  # bucket lifecycle rules (retention, aborting stale uploads)
    "notifications",  # bucket event notifications (ObjectCreated)
    "cors",  # bucket CORS rules (browsers uploading from another origin)
)
_REFUSED = {"PreconditionFailed", "ConditionalRequestConflict"}
# Answers meaning "this store has no such configuration", as opposed to "none is set yet".
_UNSUPPORTED = {"NotImplemented", "MethodNotAllowed", "InvalidRequest", "XNotImplemented"}


@dataclasses.dataclass(frozen=True)
class Capabilities:
    conditional_create: bool
    conditional_replace: bool
    copy_conditions: bool
    lifecycle: bool
    notifications: bool
    cors: bool
    probed_at: str = ""

    @property
    def conditional_writes(self) -> bool:
        """Both conditional writes a job record needs: create once, replace if unchanged."""
        return self.conditional_create and self.conditional_replace

    def lacking(self) -> list[str]:
        return [name for name in FEATURES if not getattr(self, name)]

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, value: dict) -> Capabilities:
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in value.items() if k in known})


def describe(caps: Capabilities) -> str:
    lacking = caps.lacking()
    return "honours " + ("everything pdfq asks" if not lacking else "all but " + ", ".join(lacking))


def probe(http: S3Client, client, bucket: str) -> Capabilities:
    """Try each feature on the bucket: objects with `http`, the bucket's configuration with
    `client` (boto3). Raises what they raise for an outage (S3Error or ClientError with a 5xx
    other than 501, Unreachable, BotoCoreError): the caller maps those."""
    base = keys.store_probe_key(uuid.uuid4().hex)
    copy = base + ".copy"
    kind = "application/octet-stream"
    http.put(base, b"1", content_type=kind)
    try:
        create = _refused(lambda: http.put(base, b"2", content_type=kind, if_absent=True))
        etag = http.head(base).headers.get("etag", "")
        stale = '"' + "0" * 32 + '"' if etag != '"' + "0" * 32 + '"' else '"' + "1" * 32 + '"'
        replace = _refused(lambda: http.put(base, b"3", content_type=kind, if_match=stale))
        copies = _refused(lambda: http.copy(base, copy, if_match=stale))
    finally:
        for key in (base, copy):
            http.delete(key)
    return Capabilities(
        conditional_create=create,
        conditional_replace=replace,
        copy_conditions=copies,
        lifecycle=_readable(lambda: client.get_bucket_lifecycle_configuration(Bucket=bucket)),
        notifications=_readable(
            lambda: client.get_bucket_notification_configuration(Bucket=bucket)
        ),
        cors=_readable(lambda: client.get_bucket_cors(Bucket=bucket)),
        probed_at=utcnow(),
    )


def _refused(write: Callable) -> bool:
    """True when the store refused a write whose condition does not hold (as it must)."""
    try:
        write()
    except S3Error as exc:
        if exc.code in _REFUSED or exc.status == 412:
            return True
        if exc.code in _UNSUPPORTED or exc.status in (400, 501):
            return False  # the store refuses the header itself: no condition to rely on
        raise
    return False


def _readable(read: Callable) -> bool:
    """True when the store knows the configuration (set or not); False for NotImplemented."""
    try:
        read()
    except ClientError as exc:
        error = exc.response.get("Error", {})
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        if error.get("Code") in _UNSUPPORTED or status in (405, 501):
            return False
        if status == 404 or str(error.get("Code", "")).startswith("NoSuch"):
            return True  # supported, nothing configured yet
        raise
    return True
