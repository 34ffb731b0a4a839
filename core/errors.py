"""One error hierarchy: every failure carries a stable code, an HTTP status and whether to retry.

Two storage answers that are not failures come first: ObjectMissing (no such key) and
WriteConflict (a conditional write lost its race); each caller turns them into what they mean
there (NotFound, NotUploaded, a re-read).
"""

from __future__ import annotations


class ObjectMissing(KeyError):
    """Storage has no such key: a normal answer that callers turn into their own error."""


class WriteConflict(Exception):
    """A conditional write lost a race: someone else changed the object first."""


class PdfqError(Exception):
    """Base of every error pdfq reports; `code` is stable, `message` is for people."""

    code = "internal_error"
    status = 500
    retryable = False
    default_message = "Something went wrong inside pdfq."

    def __init__(self, message: str | None = None, *, retry_after: int | None = None):
        self.message = message or self.default_message
        self.retry_after = retry_after
        super().__init__(self.message)

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}


# --- the request itself is wrong (4xx, never retried) ---


class BadRequest(PdfqError):
    code, status = "bad_request", 400
    default_message = "The request is not valid."


class EmptyUpload(PdfqError):
    code, status = "empty_file", 400
    default_message = "The uploaded file is empty."


class Unauthorized(PdfqError):
    code, status = "unauthorized", 401
    default_message = "Missing or wrong credentials."


class Forbidden(PdfqError):
    code, status = "forbidden", 403
    default_message = "This is outside what you are allowed to reach."


class HostNotAllowed(PdfqError):
    """A server without API tokens answers only requests addressed to this machine's own
    names: a web page that rebinds its own name to 127.0.0.1 would otherwise read it."""

    code, status = "host_not_allowed", 421
    default_message = "This server answers only to localhost, 127.0.0.1 and [::1]."


class InvalidToken(Unauthorized):
    """An Authorization header that is malformed, or names a token pdfq does not know."""

    code = "invalid_token"
    default_message = "This API token is not valid."


class TooManyJobs(PdfqError):
    """The tenant already has its limit of jobs in flight (TENANT_MAX_JOBS_IN_FLIGHT)."""

    code, status = "too_many_jobs", 429
    default_message = "Too many jobs in flight; wait for some to finish."


class NotFound(PdfqError):
    code, status = "not_found", 404
    default_message = "No such job."


class JobDeleted(NotFound):
    """The job was erased (DELETE); its tombstone answers 410 with `deleted_at`. A NotFound,
    so every reader that drops a job with no record drops an erased one the same way."""

    code, status = "deleted", 410
    default_message = "This job was deleted; its PDF and results are erased."

    def __init__(self, message: str | None = None, *, deleted_at: str | None = None):
        super().__init__(message)
        self.deleted_at = deleted_at

    def to_dict(self) -> dict[str, str]:
        found = super().to_dict()
        if self.deleted_at:
            found["deleted_at"] = self.deleted_at
        return found


class Conflict(PdfqError):
    code, status = "conflict", 409
    default_message = "The job is not in a state that allows this."


class ResultNotReady(Conflict):
    code = "result_not_ready"
    default_message = "The job has not succeeded yet; poll its status URL."


class NotUploaded(Conflict):
    code = "not_uploaded"
    default_message = "Nothing has been uploaded for this job yet; upload the file first."


class IdempotencyKeyReused(Conflict):
    code = "idempotency_key_reused"
    default_message = "This Idempotency-Key was used for a different request."


class IdempotentRequestInProgress(Conflict):
    code = "idempotency_in_progress"
    default_message = "A request with this Idempotency-Key is still being processed."

    def __init__(self, message: str | None = None):
        super().__init__(message, retry_after=1)


class Purged(PdfqError):
    """Gone by retention (410); `purged_at` says when the lifecycle rule removed it."""

    code, status = "purged", 410

    def __init__(self, message: str | None = None, *, purged_at: str | None = None):
        super().__init__(message)
        self.purged_at = purged_at

    def to_dict(self) -> dict[str, str]:
        found = super().to_dict()
        if self.purged_at:
            found["purged_at"] = self.purged_at
        return found


class ResultExpired(Purged):
    code = "result_expired"
    default_message = "The job succeeded, but its result has expired (RESULT_RETENTION_DAYS)."


class SourceExpired(Purged):
    code = "source_expired"
    default_message = "The job's PDF has expired (SOURCE_RETENTION_DAYS); it cannot be re-run."


class UploadExpired(PdfqError):
    """A presigned upload never arrived: its URLs expired, so recovery ended the job."""

    code, status = "upload_expired", 410
    default_message = "Nothing was uploaded before the upload URLs expired; start a new upload."


class TooLarge(PdfqError):
    code, status = "too_large", 413
    default_message = "The file is larger than the upload limit."


class NotAPdf(PdfqError):
    code, status = "not_a_pdf", 415
    default_message = "The file is not a PDF: it does not start with %PDF-."


class UnsupportedMediaType(PdfqError):
    code, status = "unsupported_media_type", 415
    default_message = "Only application/pdf can be uploaded."


class UploadRejected(PdfqError):
    """An object uploaded straight to storage failed a check (422); keeps that check's code."""

    status = 422

    def __init__(self, cause: PdfqError):
        super().__init__(cause.message)
        self.code = cause.code


# --- the PDF can never be extracted (terminal: failing again would change nothing) ---


class ExtractionError(PdfqError):
    status = 422


class Encrypted(ExtractionError):
    code = "encrypted"
    default_message = "The PDF is encrypted and cannot be opened without its password."


class Corrupt(ExtractionError):
    code = "corrupt"
    default_message = "The PDF is damaged and pdfminer.six cannot read it."


class Unsupported(ExtractionError):
    code = "unsupported"
    default_message = "The PDF uses a feature pdfminer.six does not support."


class SourceMissing(ExtractionError):
    code = "source_missing"
    default_message = "The uploaded PDF is no longer in storage."


class TooManyPages(ExtractionError):
    """More distinct pages than one job may extract (MAX_PAGES), or OCR (MAX_OCR_PAGES)."""

    code = "too_many_pages"
    default_message = "The PDF has more pages than one job may extract (MAX_PAGES)."


class SourceNotAllowed(ExtractionError):
    """A source_url (or a redirect it answered with) that pdfq may not fetch."""

    code = "source_not_allowed"
    default_message = "The source URL leads to an address pdfq does not fetch from."


class SourceRejected(ExtractionError):
    """The source URL's server answered the fetch with a 4xx (or another final non-2xx)."""

    code = "source_rejected"
    default_message = "The source URL's server refused to send the PDF."


class ExtractionTimeout(ExtractionError):
    code = "timeout"
    default_message = "Extraction took longer than the time limit."


class MemoryLimit(ExtractionError):
    code = "memory_limit"
    default_message = "Extraction needed more memory than the limit allows."


class EngineCrashed(ExtractionError):
    code = "engine_crashed"
    default_message = "The extraction process died while reading this PDF."


class WorkerCrashed(ExtractionError):
    code = "worker_crashed"
    default_message = "This PDF was in progress each time its worker died; it is not tried again."


# --- the service is unwell (retryable: wait and try again) ---


class Unavailable(PdfqError):
    status = 503
    retryable = True

    def __init__(self, message: str | None = None, *, retry_after: int | None = 30):
        super().__init__(message, retry_after=retry_after)


class AuthNotConfigured(PdfqError):
    """Production without API_TOKENS: refuse every request rather than run open."""

    code, status = "auth_not_configured", 503
    default_message = (
        "This server runs with PDFQ_ENV=production and no API_TOKENS, so it accepts no request."
    )

    def __init__(self, message: str | None = None):
        super().__init__(message, retry_after=60)  # like any 503: until an operator fixes it


class QueueFull(Unavailable):
    """More tasks wait in the queue than QUEUE_MAX_PENDING: new work is refused for now."""

    code = "queue_full"
    default_message = "The queue is full; try again shortly."


class StorageUnavailable(Unavailable):
    code = "storage_unavailable"
    default_message = "Object storage is unreachable; try again shortly."


class StoreRefused(StorageUnavailable):
    """The store answered, and refused a bucket configuration it does not support (400, 405,
    501): storage cannot do it, and trying again changes nothing (provisioning exits 1,
    not 3)."""

    code = "store_refused"
    retryable = False
    default_message = "Object storage refused a bucket configuration pdfq asked for."


class QueueUnavailable(Unavailable):
    code = "queue_unavailable"
    default_message = "The job queue (Redis) is unreachable; try again shortly."


class SourceUnavailable(Unavailable):
    """The source URL did not answer in time, could not be reached, or answered 5xx: the run
    is retried with the task's backoff."""

    code = "source_unavailable"
    status = 502
    default_message = "The source URL could not be fetched just now; it is tried again."


class WebhookFailed(Unavailable):
    """A callback URL did not answer 2xx; the delivery task is retried with backoff."""

    code = "webhook_failed"
    status = 502
    default_message = "The callback URL did not accept the webhook."


def error_for_code(code: str) -> type[PdfqError]:
    """The error class with this stable code (a sandbox child reports errors by code);
    EngineCrashed for a code pdfq does not know."""
    stack: list[type[PdfqError]] = [PdfqError]
    while stack:
        cls = stack.pop()
        if cls.code == code:
            return cls
        stack.extend(cls.__subclasses__())
    return EngineCrashed
