"""What an S3-compatible store honours, found by trying it on the bucket itself.

Stores differ: AWS S3 refuses a conditional write that lost (412); s3rver and some other
compatible stores accept `If-None-Match: *`, a stale `If-Match` and `CopySourceIfMatch`
with 200, or answer `NotImplemented` for lifecycle rules and notifications. `probe` tries
each on throw-away keys under `store/`; provisioning writes the result to
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


def probe(client, bucket: str) -> Capabilities:
    """Try each feature on the bucket with `client` (boto3). Raises what boto3 raises for an
    outage (ClientError with a 5xx other than 501, BotoCoreError): the caller maps those."""
    base = keys.store_probe_key(uuid.uuid4().hex)
    copy = base + ".copy"
    etag = client.put_object(Bucket=bucket, Key=base, Body=b"1")["ETag"]
    try:
        create = _refused(
            lambda: client.put_object(Bucket=bucket, Key=base, Body=b"2", IfNoneMatch="*")
        )
        etag = client.head_object(Bucket=bucket, Key=base)["ETag"]
        stale = '"' + "0" * 32 + '"' if etag != '"' + "0" * 32 + '"' else '"' + "1" * 32 + '"'
        replace = _refused(
            lambda: client.put_object(Bucket=bucket, Key=base, Body=b"3", IfMatch=stale)
        )
        copies = _refused(
            lambda: client.copy_object(
                Bucket=bucket,
                Key=copy,
                CopySource={"Bucket": bucket, "Key": base},
                CopySourceIfMatch=stale,
            )
        )
    finally:
        for key in (base, copy):
            client.delete_object(Bucket=bucket, Key=key)
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
    except ClientError as exc:
        error = exc.response.get("Error", {})
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        if error.get("Code") in _REFUSED or status == 412:
            return True
        if error.get("Code") in _UNSUPPORTED or status in (400, 501):
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
