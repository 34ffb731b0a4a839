"""Files dropped under inbox/<tenant>/ by any tool become jobs: exactly one per object version.

The job id is derived from the bucket, the key and the ETag, and its record is created with
If-None-Match, so a repeated event finds the job it made before. The object is copied to the
job's source key (every job's source lives under sources/, whatever brought it) and then
removed from the inbox: the inbox empties as pdfq takes the files.
"""

from __future__ import annotations

from core import keys, services
from core.errors import NotUploaded, SourceMissing, TooLarge, UploadRejected
from core.jobs import Job, JobStatus, JobStore
from core.settings import get_settings
from core.storage import ObjectMissing, Storage, WriteConflict
from functions.completion import complete_upload, refuse
from functions.s3events import Created, outcome
from functions.uploads import clean_filename


def ingest(obj: Created) -> dict:
    """Turn one inbox object into a queued job (or a failed one that says why); idempotent."""
    tenant, name = keys.parse_inbox_key(obj.key)
    if not known_tenant(tenant):
        return outcome(obj, "ignored", reason=f"no API token names tenant {tenant!r}")
    store = services.jobs()
    storage = store.storage
    etag = obj.etag
    if not etag:  # S3 always sends one; a store that does not is asked
        try:
            etag = storage.head(obj.key)["ETag"]
        except ObjectMissing:
            return outcome(obj, "ignored", reason="the object is no longer in the inbox")
    job = _create_or_get(store, keys.object_job_id(obj.bucket, obj.key, etag), tenant, name, obj)
    if job.status is not JobStatus.AWAITING_UPLOAD:
        _remove(storage, obj.key, etag)  # finish the move an earlier attempt began
        return outcome(obj, "duplicate", job)

    limit = get_settings().max_upload_bytes
    if obj.size is not None and obj.size > limit:  # not worth copying
        job = refuse(store, job, TooLarge(f"The file is {obj.size} bytes; the limit is {limit}."))
        _remove(storage, obj.key, etag)
        return outcome(obj, "rejected", job)

    _take(storage, obj.key, etag, job.source_key)
    try:
        job, queued = complete_upload(job)
    except UploadRejected:
        _remove(storage, obj.key, etag)
        return outcome(obj, "rejected", store.get(job.id, tenant))
    except NotUploaded:
        gone = SourceMissing("The file left the inbox (removed or replaced) before pdfq took it.")
        return outcome(obj, "rejected", refuse(store, job, gone))
    _remove(storage, obj.key, etag)
    return outcome(obj, "queued" if queued else "duplicate", job)


def known_tenant(tenant: str) -> bool:
    """With API tokens, only their tenants have inboxes; an open server has only "public"."""
    settings = get_settings()
    if settings.auth_enabled:
        return any(tenant == owner for owner, _ in settings.api_tokens)
    return tenant == keys.DEFAULT_TENANT


def _create_or_get(store: JobStore, job_id: str, tenant: str, name: str, obj: Created) -> Job:
    """The object's job: created now, or found when an earlier delivery of the event made it."""
    try:
        return store.create(
            job_id=job_id,
            tenant=tenant,
            filename=clean_filename(name),
            size=obj.size or 0,
            status=JobStatus.AWAITING_UPLOAD,
        )
    except WriteConflict:
        return store.get(job_id, tenant)


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
