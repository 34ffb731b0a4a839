"""S3 ObjectCreated notifications in the AWS event shape (as Lambda, SQS and MinIO send them),
and the per-object answer that the event handlers give."""

from __future__ import annotations

import json
from dataclasses import dataclass
from urllib.parse import unquote_plus

from core.clock import parse_time
from core.errors import BadRequest
from core.jobs.model import Job


@dataclass(frozen=True)
class Created:
    """One object that was written: the bucket, its decoded key, its size, its ETag and when
    (the event's time in milliseconds, the same in every delivery of the event; None if the
    event has none)."""

    bucket: str
    key: str
    size: int | None
    etag: str
    at_ms: int | None = None


def created_objects(event) -> list[Created]:
    """The ObjectCreated records of an event, SQS deliveries unwrapped; BadRequest if malformed.

    Other records (ObjectRemoved, ...) and S3's s3:TestEvent, which has no Records, are skipped.
    """
    if not isinstance(event, dict) or not isinstance(event.get("Records", []), list):
        raise BadRequest("An S3 event is a JSON object with a list of Records.")
    found: list[Created] = []
    for record in event.get("Records", []):
        if not isinstance(record, dict):
            raise BadRequest("Each of an S3 event's Records must be an object.")
        if record.get("eventSource") == "aws:sqs":
            # S3 -> SQS (-> Lambda): the S3 event is the message body.
            found += created_objects(_json(record.get("body")))
            continue
        # AWS names events "ObjectCreated:Put"; MinIO "s3:ObjectCreated:Put".
        if not str(record.get("eventName", "")).removeprefix("s3:").startswith("ObjectCreated:"):
            continue
        try:
            bucket, obj = record["s3"]["bucket"]["name"], record["s3"]["object"]
            key = obj["key"]
        except (KeyError, TypeError):
            bucket = key = None
        # Any JSON may arrive here: a number or null where a string belongs is a bad request.
        if not isinstance(bucket, str) or not isinstance(key, str):
            raise BadRequest(
                "An ObjectCreated record needs s3.bucket.name and s3.object.key, as strings."
            )
        size, etag = obj.get("size"), obj.get("eTag")
        found.append(
            Created(
                bucket,
                unquote_plus(key),  # keys arrive form-encoded: a space is '+', a real '+' is %2B
                size if isinstance(size, int) and not isinstance(size, bool) else None,
                etag if isinstance(etag, str) else "",
                _millis(record.get("eventTime")),
            )
        )
    return found


def outcome(obj: Created, what: str, job: Job | None = None, reason: str | None = None) -> dict:
    """What became of one object: queued, duplicate, rejected or ignored, with its job if any."""
    result: dict = {"key": obj.key, "outcome": what}
    if job is not None:
        result.update(job_id=job.id, status=job.status.value, error=job.error)
    if reason:
        result["reason"] = reason
    return result


def _millis(value) -> int | None:
    """An event's ISO 8601 time in milliseconds since 1970; None when it has no valid one."""
    try:
        return round(parse_time(value).timestamp() * 1000)
    except (TypeError, ValueError, AttributeError):
        return None


def _json(body) -> dict:
    try:
        return json.loads(body)
    except (TypeError, ValueError, RecursionError):  # deep nesting would exhaust the stack
        raise BadRequest("An SQS record's body must be the JSON of an S3 event.") from None
