"""Logging shared by the web and the worker: JSON lines (or text), the job id, no secrets.

Every line logged while a job is being handled carries its id: the worker binds it around
each task, the web around each request for a job (see `job_context`). LOG_FORMAT=text gives
readable lines for development. Secrets are masked in every value of a line, whatever logged
them: in a JSON line before it is encoded (by pattern, and by the name of an extra field),
never in the encoded line, whose escaped quotes a pattern would cut through.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import json
import logging
import re
import threading
import time

from core.errors import PdfqError
from core.settings import Settings

_job_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("pdfq_job_id", default=None)
# The HTTP request being served (X-Request-ID: the router's, or one the web made up).
_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "pdfq_request_id", default=None
)

# Loggers whose lines pdfq formats: its own and Huey's (the consumer's "Executing..." lines).
LOGGERS = ("pdfq", "huey")

# Attributes every LogRecord has; anything else was passed with `extra=` and is worth keeping.
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "job_id", "request_id"}

# A fix hint's placeholders ("Set API_TOKENS=<tenant>:<token>") are no secret: kept readable.
_PLACEHOLDERS = re.compile(r"(?:<[a-z][a-z _-]{0,30}>[:,]?)+")
# Extra fields whose name says they hold a credential: their text is masked whole.
_SECRET_NAMES = re.compile(r"secret|passw|token|api_?key|signature|credential|authoriz", re.I)

# (pattern, replacement): passwords in URLs, AWS key ids, presigned URL signatures and
# credentials, secrets, passwords and tokens (API_TOKENS too) written as name=value or
# "name": "value", bearer and basic credentials, webhook signatures (v1=<hmac>), and
# signatures in query strings (?sig=).
_SECRETS = [
    (re.compile(r"(\b[a-z][a-z0-9+.-]*://[^:/@\s]*:)[^@\s/]+@", re.I), r"\1***@"),
    (re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"), "AKIA***"),
    (
        re.compile(
            r"((?:X-Amz-Signature|X-Amz-Credential|X-Amz-Security-Token|Signature|AWSAccessKeyId"
            r"|aws_secret_access_key|secrets?|passwords?|passwd|tokens?|api_?key)"
            r"[\"']?\s*[=:]\s*[\"']?)([^&\"'\s}]+)",
            re.I,
        ),
        lambda match: match[0] if _PLACEHOLDERS.fullmatch(match[2]) else match[1] + "***",
    ),
    (re.compile(r"([?&]sig=)[^&\s\"']+", re.I), r"\1***"),
    (re.compile(r"\b(v1=)[0-9a-f]{16,}", re.I), r"\1***"),
    (re.compile(r"((?:Bearer|Basic)\s+)[A-Za-z0-9._~+/=-]+", re.I), r"\1***"),
    # A pdfq API token anywhere (core/tokens.py gives them this prefix for that reason).
    (re.compile(r"\bpdfq_[A-Za-z0-9_-]{20,}"), "pdfq_***"),
]


def redact(text: str) -> str:
    """`text` with credentials, keys, signatures and tokens replaced by ***."""
    for pattern, replacement in _SECRETS:
        text = pattern.sub(replacement, text)
    return text


@contextlib.contextmanager
def job_context(job_id: str | None):
    """Tag every line logged inside the block, in this thread or task, with `job_id`."""
    token = _job_id.set(job_id)
    try:
        yield
    finally:
        _job_id.reset(token)


def bind_job(job_id: str | None) -> contextvars.Token:
    """Tag later lines with `job_id` until `unbind_job(token)` (for hooks that cannot nest)."""
    return _job_id.set(job_id)


def unbind_job(token: contextvars.Token):
    _job_id.reset(token)


def bind_request(request_id: str | None) -> contextvars.Token:
    """Tag later lines with `request_id` until `unbind_request(token)`."""
    return _request_id.set(request_id)


def unbind_request(token: contextvars.Token):
    _request_id.reset(token)


def clear_job():
    """No job from here on in this thread (between two tasks: nothing carries the last id)."""
    _job_id.set(None)


# Errors that mean "a service is unreachable", by class name (redis's, botocore's, the OS's):
# an outage repeats them many times a second, and their traceback says nothing new.
_OUTAGE_ERRORS = re.compile(r"ConnectionError|TimeoutError|ConnectionRefused|ConnectionReset")
OUTAGE_LOG_INTERVAL = 30  # seconds between two lines about the same repeated outage error


class RepeatedOutages(logging.Filter):
    """One line per OUTAGE_LOG_INTERVAL for a repeated connection error, with how many
    times it happened, and no traceback: an outage of Redis or storage is one line every
    interval per message (Huey retries its reads many times a second), not thousands."""

    def __init__(self, interval: float = OUTAGE_LOG_INTERVAL):
        super().__init__()
        self.interval = interval
        self._seen: dict[tuple[str, str], list[float | int]] = {}  # -> [last shown, hidden]
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if error is None or not _is_outage(error):
            return True
        key = (record.name, str(record.msg))
        now = time.monotonic()
        with self._lock:
            seen = self._seen.setdefault(key, [-self.interval, 0])
            if now - seen[0] < self.interval:
                seen[1] += 1
                return False
            hidden, seen[0], seen[1] = seen[1], now, 0
        summary = (
            f"{error.code}: {error.message}"
            if isinstance(error, PdfqError)
            else f"{type(error).__name__}: {error}"
        )
        more = f"; {hidden} more in the last {self.interval:g} s" if hidden else ""
        record.msg = f"{record.getMessage()} ({summary}){more}"
        record.args = None
        record.exc_info = record.exc_text = None
        return True


def _is_outage(error: BaseException) -> bool:
    if isinstance(error, PdfqError) and error.retryable:
        return True  # storage or the state store unreachable, in pdfq's own words
    return any(_OUTAGE_ERRORS.search(cls.__name__) for cls in type(error).__mro__)


class JobIdFilter(logging.Filter):
    """Copies the bound job id and request id onto each record (unless the caller passed
    them in `extra`)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "job_id", None) is None:
            record.job_id = _job_id.get()
        if getattr(record, "request_id", None) is None:
            record.request_id = _request_id.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, job_id, extras, exception."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "pid": record.process,  # which gunicorn or huey worker process wrote it
        }
        if getattr(record, "job_id", None):
            line["job_id"] = record.job_id
        if getattr(record, "request_id", None):
            line["request_id"] = record.request_id
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                line[key] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        # Before encoding, never after: JSON escapes quotes, which a pattern would cut through
        # (and then swallow the next field).
        return json.dumps(
            {key: scrubbed(key, value) for key, value in line.items()}, ensure_ascii=False
        )


def scrubbed(key, value):
    """A JSON line's `value` under `key`, with its secrets masked: text by pattern, the text
    of a field named like a credential whole; numbers and flags as they are; containers
    field by field; anything else as its redacted text."""
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, dict):
        return {str(k): scrubbed(k, v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [scrubbed(key, item) for item in value]
    if isinstance(key, str) and _SECRET_NAMES.search(key):
        return "***"
    return redact(value if isinstance(value, str) else str(value))


class TextFormatter(logging.Formatter):
    """Readable lines for development: time, level, logger, [job <id>], message."""

    def __init__(self):
        super().__init__("%(asctime)s %(levelname)s %(name)s %(_req)s%(_job)s%(message)s")

    def format(self, record: logging.LogRecord) -> str:
        job_id = getattr(record, "job_id", None)
        record._job = f"[job {job_id}] " if job_id else ""
        request_id = getattr(record, "request_id", None)
        record._req = f"[req {request_id}] " if request_id else ""
        return redact(super().format(record))


def make_formatter(settings: Settings) -> logging.Formatter:
    return TextFormatter() if settings.log_format == "text" else JsonFormatter()


def prepare(handler: logging.Handler, settings: Settings):
    """Give `handler` pdfq's format, job id filter and outage summaries (idempotent)."""
    handler.setFormatter(make_formatter(settings))
    for kind in (JobIdFilter, RepeatedOutages):
        if not any(isinstance(f, kind) for f in handler.filters):
            handler.addFilter(kind())


def configure(settings: Settings):
    """Send pdfq's and Huey's loggers to stderr in LOG_FORMAT, both at LOG_LEVEL.

    huey_consumer installs its own handler on "huey" before our start-up hook runs: that
    handler is re-formatted rather than doubled, and its level (INFO, from the command
    line) becomes LOG_LEVEL: at `warning` Huey's two lines per task are not even formatted.
    """
    for name in LOGGERS:
        logger = logging.getLogger(name)
        if not logger.handlers:
            logger.addHandler(logging.StreamHandler())
        for handler in logger.handlers:
            prepare(handler, settings)
        logger.propagate = False
    for name in LOGGERS:
        logging.getLogger(name).setLevel(settings.log_level)
    # The consumer's own lines (started, shutting down, a worker restarted) are a handful a
    # day and say what the process did: they stay at INFO whatever LOG_LEVEL says.
    level = logging.getLevelName(settings.log_level)  # "WARNING" -> 30
    logging.getLogger("huey.consumer").setLevel(min(logging.INFO, level))
