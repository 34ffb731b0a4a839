"""Files dropped under inbox/<tenant>/ by any tool become jobs: exactly one per object version.

The job id is derived from the bucket, the key, the ETag and the time the object was written
(the event's), and its record is created with If-None-Match, so a repeated event finds the
job it made before, and the same file dropped again later (under the name of a deleted job's
file, say) is a job of its own. The object is copied to the job's source key (every job's
source lives under sources/, whatever brought it) and then removed from the inbox: the
inbox empties as pdfq takes the files. A late event of a file whose job was deleted is
ignored.
"""

from __future__ import annotations

from core import keys
from core.adapters.storage import Storage
from core.errors import (
    JobDeleted,
    NotUploaded,
    ObjectMissing,
    SourceMissing,
    TooLarge,
    UploadRejected,
    WriteConflict,
)
from core.jobs import pdfcheck
from core.jobs.model import Job, JobStatus
from core.services import Services
from core.settings import Settings
from functions.documents import clean_filename
from functions.s3events import Created, outcome


def ingest(runtime: Services, obj: Created, by: str) -> dict:
    """Turn one inbox object into a queued job (or a failed one that says why); idempotent."""
    tenant, name = keys.parse_inbox_key(obj.key)
    if not known_tenant(runtime.settings, tenant):
        return outcome(obj, "ignored", reason=f"no API token names tenant {tenant!r}")
    storage, lifecycle = runtime.storage, runtime.lifecycle
    etag, at_ms = obj.etag, obj.at_ms
    if not etag or at_ms is None:  # S3 always sends both; a store that does not is asked
        try:
            head = storage.head(obj.key)
        except ObjectMissing:
            return outcome(obj, "ignored", reason="the object is no longer in the inbox")
        etag = etag or head["ETag"]
        at_ms = round(head["LastModified"].timestamp() * 1000) if at_ms is None else at_ms
    job_id = keys.object_job_id(obj.bucket, obj.key, etag, at_ms)
    try:
        job = _create_or_get(runtime, job_id, tenant, name, obj)
    except JobDeleted:
        return outcome(obj, "ignored", reason="its job was deleted")
    if job.status is not JobStatus.AWAITING_UPLOAD:
        _remove(storage, obj.key, etag)  # finish the move an earlier attempt began
        return outcome(obj, "duplicate", job)

    if obj.size is not None:  # not worth copying a file that is too large
        try:
            pdfcheck.check_limit(obj.size, runtime.settings.max_upload_bytes)
        except TooLarge as too_large:
            job = lifecycle.refuse(job, too_large, by)
            _remove(storage, obj.key, etag)
            return outcome(obj, "rejected", job)

    _take(storage, obj.key, etag, job.source_key)
    try:
        job, queued = lifecycle.complete_upload(job, by)
    except UploadRejected:
        _remove(storage, obj.key, etag)
        return outcome(obj, "rejected", runtime.records.get(job.id, tenant))
    except NotUploaded:
        gone = SourceMissing("The file left the inbox (removed or replaced) before pdfq took it.")
        return outcome(obj, "rejected", lifecycle.refuse(job, gone, by))
    _remove(storage, obj.key, etag)
    return outcome(obj, "queued" if queued else "duplicate", job)


def known_tenant(settings: Settings, tenant: str) -> bool:
    """With API tokens, only their tenants have inboxes; an open server has only "public"."""
    if settings.auth_enabled:
        return any(tenant == owner for owner, _ in settings.api_tokens)
    return tenant == keys.DEFAULT_TENANT


def _create_or_get(runtime: Services, job_id: str, tenant: str, name: str, obj: Created) -> Job:
    """The object's job: created now, or found when an earlier delivery of the event made it."""
    try:
        return runtime.lifecycle.create(
            job_id=job_id,
            tenant=tenant,
            filename=clean_filename(name),
            size=obj.size or 0,
            awaiting_upload=True,
        )
    except WriteConflict:
        return runtime.records.get(job_id, tenant)


def _same_version(storage: Storage, key: str, etag: str) -> str | None:
    """The object's quoted ETag if it is still the version the event named, else None."""
    try:
        current = storage.head(key)["ETag"]
    except ObjectMissing:
        return None
    return current if current.strip('"') == etag.strip('"') else None


def _take(storage: Storage, key: str, etag: str, source: str):
    """Copy this version of the inbox object to the job's source key, if it is still there.

    If it is gone (an earlier attempt moved it) or was replaced (the new version has its own
    event and job), nothing is copied and completion judges by what is under sources/.
    """
    current = _same_version(storage, key, etag)
    if current is None:
        return
    try:
        # Real S3 re-checks the version atomically; moto ignores CopySourceIfMatch.
        storage.copy(key, source, if_match=current)
    except (ObjectMissing, WriteConflict):
        return


def _remove(storage: Storage, key: str, etag: str):
    """Delete the inbox object, unless a newer version has replaced it meanwhile."""
    if _same_version(storage, key, etag) is not None:
        storage.delete(key)
