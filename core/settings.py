"""The only reader of the environment: typed settings, validated once, failing fast."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from dotenv import dotenv_values

from core import engine_registry

# Tenant names become S3 key parts (core/keys.py); "public" is the tenant of an open (no
# tokens) development server, so no token may claim it.
TENANT_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")
RESERVED_TENANT = "public"
# RFC 6750 b64token characters; tokens shorter than this are too easy to guess.
TOKEN_CHARS = re.compile(r"[A-Za-z0-9._~+/=-]+")
MIN_TOKEN_CHARS = 24


class SettingsError(ValueError):
    """A variable has a value pdfq cannot use; the message names it and what it expected."""


def _bool(name: str, raw: str) -> bool:
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off", ""):
        return False
    raise SettingsError(f"{name}={raw!r}: expected true or false")


def _int(name: str, raw: str, minimum: int = 0, maximum: int | None = None) -> int:
    try:
        value = int(raw.strip().replace("_", ""))
    except ValueError:
        raise SettingsError(f"{name}={raw!r}: expected a whole number") from None
    if value < minimum:
        raise SettingsError(f"{name}={raw!r}: expected a number of at least {minimum}")
    if maximum is not None and value > maximum:
        raise SettingsError(f"{name}={raw!r}: expected a number of at most {maximum}")
    return value


def _float(name: str, raw: str, minimum: float = 0.0) -> float:
    try:
        value = float(raw.strip())
    except ValueError:
        raise SettingsError(f"{name}={raw!r}: expected a number") from None
    if value < minimum:
        raise SettingsError(f"{name}={raw!r}: expected a number of at least {minimum}")
    return value


def _choice(name: str, raw: str, choices: tuple[str, ...]) -> str:
    value = raw.strip().lower()
    if value not in choices:
        raise SettingsError(f"{name}={raw!r}: expected one of {', '.join(choices)}")
    return value


def _url(name: str, raw: str, schemes: tuple[str, ...]) -> str:
    value = raw.strip()
    if value and not value.startswith(tuple(f"{s}://" for s in schemes)):
        wanted = " or ".join(f"{s}://..." for s in schemes)
        raise SettingsError(f"{name}={_shown_url(raw)!r}: expected a URL starting with {wanted}")
    return value


def _shown_url(raw: str) -> str:
    """A URL for an error message: whatever stands before an '@' (a user and password, even
    in a URL too malformed to parse, such as redis:/:pass@host) replaced by ***."""
    if "@" not in raw:
        return raw
    scheme, colon, _ = raw.partition(":")
    host = raw.rsplit("@", 1)[1]
    if colon and re.fullmatch(r"[A-Za-z][A-Za-z0-9+.-]*", scheme):
        return f"{scheme}:***@{host}"
    return f"***@{host}"


def _bucket(name: str, raw: str) -> str:
    value = raw.strip()
    allowed = all(c.islower() or c.isdigit() or c in ".-" for c in value)
    if not (3 <= len(value) <= 63 and allowed):
        raise SettingsError(
            f"{name}={raw!r}: expected an S3 bucket name (3-63 lowercase letters, digits, '.', '-')"
        )
    return value


def _origins(name: str, raw: str) -> tuple[str, ...]:
    """Comma-separated web origins (scheme://host[:port], no path), or * for any."""
    origins = tuple(part.strip().rstrip("/") for part in raw.split(",") if part.strip())
    for origin in origins:
        if origin != "*" and not re.fullmatch(r"https?://[^/\s?#]+", origin):
            raise SettingsError(
                f"{name}={_shown_url(raw)!r}: expected origins like https://app.example.com or "
                "http://127.0.0.1:8000, separated by commas"
            )
    return origins


@dataclass(frozen=True)
class BucketGrant:
    """A bucket of another S3-compatible store that an operator grants one tenant: jobs may
    read sources under `source_prefix`, and results are copied under `result_prefix`."""

    tenant: str
    bucket: str
    endpoint_url: str
    region: str
    access_key_id: str
    secret_access_key: str = dataclasses.field(repr=False)
    source_prefix: str = ""
    result_prefix: str = ""


_GRANT_FIELDS = {"bucket", "endpoint_url", "region", "access_key_id", "secret_access_key"}
_GRANT_FIELDS |= {"source_prefix", "result_prefix"}


def _grants(name: str, raw: str) -> tuple[BucketGrant, ...]:
    """JSON: {tenant: {"bucket", "endpoint_url", "region", "access_key_id",
    "secret_access_key", "source_prefix", "result_prefix"}}; empty: none."""
    if not raw.strip():
        return ()
    try:
        value = json.loads(raw)
    except ValueError:
        raise SettingsError(f"{name}: expected a JSON object (tenant: grant)") from None
    if not isinstance(value, dict):
        raise SettingsError(f"{name}: expected a JSON object (tenant: grant)")
    grants = []
    for tenant, grant in value.items():
        if not isinstance(grant, dict) or set(grant) - _GRANT_FIELDS or "bucket" not in grant:
            fields = ", ".join(sorted(_GRANT_FIELDS))
            raise SettingsError(f"{name}: tenant {tenant!r} needs a 'bucket', and only {fields}")
        if not all(isinstance(v, str) for v in grant.values()):
            raise SettingsError(f"{name}: tenant {tenant!r}: every value is a string")
        source, result = grant.get("source_prefix", ""), grant.get("result_prefix", "")
        if ".." in source.split("/") or ".." in result.split("/"):
            raise SettingsError(f"{name}: tenant {tenant!r}: a prefix without '..'")
        grants.append(
            BucketGrant(
                tenant=tenant,
                bucket=grant["bucket"],
                endpoint_url=grant.get("endpoint_url", ""),
                region=grant.get("region", "us-east-1"),
                access_key_id=grant.get("access_key_id", ""),
                secret_access_key=grant.get("secret_access_key", ""),
                source_prefix=source,
                result_prefix=result,
            )
        )
    return tuple(grants)


def _secret(name: str, raw: str) -> str:
    value = raw.strip()
    if value and len(value) < 16:
        raise SettingsError(f"{name}: expected at least 16 characters (or empty to turn it off)")
    return value


def _old_secrets(name: str, raw: str) -> tuple[str, ...]:
    """Earlier values of a secret, comma-separated, each as long as the secret must be."""
    values = tuple(part.strip() for part in raw.split(",") if part.strip())
    if any(len(value) < 16 for value in values):
        raise SettingsError(f"{name}: expected values of at least 16 characters, comma-separated")
    return values


def _metrics_token(name: str, raw: str) -> str:
    # A bearer token like the API's: long enough that it cannot be guessed.
    value = raw.strip()
    if value and len(value) < MIN_TOKEN_CHARS:
        raise SettingsError(
            f"{name}: expected at least {MIN_TOKEN_CHARS} characters (or empty); "
            "`flask --app functions pdf token new` prints a good one"
        )
    return value


def _arn(name: str, raw: str) -> str:
    value = raw.strip()
    # S3 sends events to an SNS topic, an SQS queue (MinIO names its targets arn:minio:sqs:...)
    # or a Lambda function; anything else S3 would refuse at provisioning time.
    kinds = ("sns", "sqs", "lambda")
    if value and not (value.startswith("arn:") and any(f":{k}:" in value for k in kinds)):
        raise SettingsError(
            f"{name}={raw!r}: expected the arn: of an SNS topic, SQS queue or Lambda"
        )
    return value


def _api_tokens(name: str, raw: str) -> tuple[tuple[str, str], ...]:
    """(tenant, SHA-256 hex) pairs from `tenant:token` or `tenant:sha256:<hex>` entries.

    Only the digest is kept, so the clear token lives nowhere in pdfq's memory after start-up.
    """
    pairs = []
    for entry in (part.strip() for part in raw.split(",")):
        if not entry:
            continue
        tenant, _, secret = entry.partition(":")
        tenant = tenant.strip()
        if not TENANT_NAME.fullmatch(tenant) or tenant == RESERVED_TENANT:
            raise SettingsError(
                f"{name}: tenant {tenant!r} must be 1-63 lowercase letters, digits, '_' or '-' "
                f"(and not {RESERVED_TENANT!r}); entries look like acme:<token>"
            )
        if re.fullmatch(r"sha256:[0-9a-f]{64}", secret):
            pairs.append((tenant, secret.removeprefix("sha256:")))
        elif len(secret) >= MIN_TOKEN_CHARS and TOKEN_CHARS.fullmatch(secret):
            pairs.append((tenant, hashlib.sha256(secret.encode()).hexdigest()))
        else:  # never echo the value: it is a credential
            raise SettingsError(
                f"{name}: the token of tenant {tenant!r} must be sha256:<64 hex> or at least "
                f"{MIN_TOKEN_CHARS} characters of A-Z a-z 0-9 . _ ~ + / = - "
                "(make one with `flask --app functions pdf token new <tenant>`)"
            )
    digests = [digest for _, digest in pairs]
    if len(set(digests)) != len(digests):
        raise SettingsError(f"{name}: the same token is listed twice")
    return tuple(pairs)


def _ocr_languages(name: str, raw: str) -> str:
    value = raw.strip() or "eng"
    if not re.fullmatch(r"[A-Za-z_]+(\+[A-Za-z_]+)*", value):
        raise SettingsError(f"{name}={raw!r}: expected Tesseract languages such as eng or eng+deu")
    return value


@dataclass(frozen=True)
class Settings:
    """Everything pdfq reads from the environment, with its default."""

    # Queue.
    redis_url: str = ""
    queue_name: str = "pdf-tasks"
    # Threads: extraction runs in sandbox children, one per extraction slot, so 8 threads keep
    # the slots busy while the others download sources and store results.
    workers: int = 8
    worker_type: str = "thread"
    # Sandboxed extractions one worker process runs at once; 0: one per core. Two by default,
    # as many as two process workers ran: a container's core count is often the host's.
    extract_slots: int = 2
    immediate: bool = False
    redis_ssl_verify: bool = False
    data_dir: Path = Path(".pdfq-data")

    # Storage.
    s3_bucket: str = "pdfq"
    s3_endpoint_url: str = ""
    s3_public_endpoint_url: str = ""
    s3_region: str = "us-east-1"

    # `make run` starts moto's S3 server here when S3_ENDPOINT_URL is empty.
    local_s3_port: int = 9000

    # Retries of transient failures (storage or Redis down).
    task_retries: int = 3
    task_retry_delay: float = 60.0
    task_retry_backoff: float = 2.0

    # Limits.
    max_upload_bytes: int = 100 * 1024 * 1024

    # Never lose a job: leases, crash quarantine, sandbox limits, reconcile.
    lease_seconds: int = 60
    max_worker_crashes: int = 3
    extract_timeout: float = 300.0
    # Per step of one extraction: opening the document (to its page count), then each page.
    extract_open_seconds: float = 120.0
    extract_page_seconds: float = 120.0
    extract_memory_mb: int = 1024
    # Warm sandbox children: replaced after this many requests, or past this resident size.
    sandbox_max_requests: int = 200
    sandbox_max_rss_mb: int = 256
    # Page images for the viewer: drawn on demand in a sandbox child, at most this wide.
    page_image_max_width: int = 1600
    page_image_timeout: float = 20.0
    shutdown_timeout: float = 20.0
    reconcile_grace: int = 60

    # Ephemeral state.
    progress_ttl: int = 7 * 24 * 3600

    log_level: str = "INFO"

    # Presigned uploads and S3 events.
    presign_expiry: int = 900
    cors_origins: tuple[str, ...] = ()
    events_webhook_secret: str = ""

    # Operations: logs, metrics, retention, bucket notifications.
    log_format: str = "json"
    metrics_enabled: bool = True
    metrics_token: str = ""
    source_retention_days: int = 30
    result_retention_days: int = 0
    s3_events_arn: str = ""

    # Job control: the password option, webhooks, result links.
    options_secret: str = ""
    options_secret_old: tuple[str, ...] = ()
    webhook_secret: str = ""
    webhook_allow_private: bool = False
    webhook_retries: int = 5
    webhook_retry_delay: float = 30.0
    webhook_timeout: float = 10.0
    webhook_max_concurrent: int = 1
    result_link_expiry: int = 3600

    # Jobs from a URL (source_url): fetched by the worker under the webhook's address rule.
    source_allow_private: bool = False
    source_fetch_timeout: float = 60.0

    # Event streams (GET .../events): how long one lasts before the client reconnects, and
    # how many a tenant may hold open at once.
    events_window_seconds: float = 25.0
    events_max_per_tenant: int = 4

    # Buckets of other stores granted to tenants (core/adapters/granted.py).
    tenant_buckets: tuple[BucketGrant, ...] = ()
    # Keys asked for in one listing request of a granted prefix (a batch's source).
    batch_list_page_size: int = 1000

    # Engines, page-parallel extraction, dedup.
    default_engine: str = engine_registry.DEFAULT
    parallel_min_pages: int = 100
    part_pages: int = 20
    dedup_enabled: bool = True

    # OCR (Tesseract): pages without a text layer, and engine=ocr.
    ocr_default: str = "auto"
    ocr_languages: str = "eng"
    tessdata_prefix: str = ""
    ocr_dpi: int = 300
    ocr_page_seconds: float = 60.0
    ocr_memory_mb: int = 2048

    # Security and tenants.
    environment: str = "production"
    api_tokens: tuple[tuple[str, str], ...] = ()
    tenant_max_jobs_in_flight: int = 100
    queue_max_pending: int = 10000
    max_json_bytes: int = 64 * 1024

    # Web (gunicorn.conf.py): worker processes, and the proxies whose forwarded headers count.
    web_concurrency: int = 2
    proxy_hops: int = 0

    # Hostile input: what one job may cost the worker, the queue and the results.
    max_parts_per_job: int = 64
    part_window: int = 4
    max_metadata_value_chars: int = 2000
    max_metadata_chars: int = 8000
    max_text_bytes: int = 64 * 1024 * 1024
    max_pages: int = 3000
    max_ocr_pages: int = 500

    @property
    def auth_enabled(self) -> bool:
        """Tokens are configured: every API request must name its tenant with one."""
        return bool(self.api_tokens)

    @property
    def queue_backend(self) -> str:
        """Which Huey storage the queue uses: memory, redis or sqlite."""
        if self.immediate:
            return "memory"
        return "redis" if self.redis_url else "sqlite"


# name -> (Settings field, parser). HUEY_REDIS_URL falls back to REDIS_URL (Heroku, Render).
_PARSERS: dict[str, tuple[str, Callable[[str, str], object]]] = {
    "HUEY_QUEUE_NAME": ("queue_name", lambda n, v: v.strip() or "pdf-tasks"),
    "HUEY_WORKERS": ("workers", lambda n, v: _int(n, v, minimum=1)),
    "HUEY_WORKER_TYPE": ("worker_type", lambda n, v: _choice(n, v, ("thread", "process"))),
    "EXTRACT_SLOTS": ("extract_slots", lambda n, v: _int(n, v, minimum=0)),
    "HUEY_IMMEDIATE": ("immediate", _bool),
    "REDIS_SSL_VERIFY": ("redis_ssl_verify", _bool),
    "PDFQ_DATA_DIR": ("data_dir", lambda n, v: Path(v.strip() or ".pdfq-data")),
    "S3_BUCKET": ("s3_bucket", _bucket),
    "S3_ENDPOINT_URL": ("s3_endpoint_url", lambda n, v: _url(n, v, ("http", "https"))),
    "S3_PUBLIC_ENDPOINT_URL": (
        "s3_public_endpoint_url",
        lambda n, v: _url(n, v, ("http", "https")),
    ),
    "LOCAL_S3_PORT": ("local_s3_port", lambda n, v: _int(n, v, minimum=1)),
    "AWS_DEFAULT_REGION": ("s3_region", lambda n, v: v.strip() or "us-east-1"),
    "TASK_RETRIES": ("task_retries", lambda n, v: _int(n, v, minimum=0)),
    "TASK_RETRY_DELAY": ("task_retry_delay", lambda n, v: _float(n, v, minimum=0)),
    "TASK_RETRY_BACKOFF": ("task_retry_backoff", lambda n, v: _float(n, v, minimum=1)),
    "MAX_UPLOAD_BYTES": ("max_upload_bytes", lambda n, v: _int(n, v, minimum=1)),
    "LEASE_SECONDS": ("lease_seconds", lambda n, v: _int(n, v, minimum=3)),
    "MAX_WORKER_CRASHES": ("max_worker_crashes", lambda n, v: _int(n, v, minimum=1)),
    "EXTRACT_TIMEOUT_SECONDS": ("extract_timeout", lambda n, v: _float(n, v, minimum=1)),
    "OPEN_TIMEOUT_SECONDS": ("extract_open_seconds", lambda n, v: _float(n, v, minimum=1)),
    "PAGE_TIMEOUT_SECONDS": ("extract_page_seconds", lambda n, v: _float(n, v, minimum=1)),
    "EXTRACT_MEMORY_MB": ("extract_memory_mb", lambda n, v: _int(n, v, minimum=0)),
    "SANDBOX_MAX_REQUESTS": ("sandbox_max_requests", lambda n, v: _int(n, v, minimum=1)),
    "SANDBOX_MAX_RSS_MB": ("sandbox_max_rss_mb", lambda n, v: _int(n, v, minimum=64)),
    "PAGE_IMAGE_MAX_WIDTH": ("page_image_max_width", lambda n, v: _int(n, v, 100, 4000)),
    "PAGE_IMAGE_TIMEOUT_SECONDS": ("page_image_timeout", lambda n, v: _float(n, v, minimum=1)),
    "HUEY_SHUTDOWN_TIMEOUT": ("shutdown_timeout", lambda n, v: _float(n, v, minimum=0)),
    "RECONCILE_GRACE_SECONDS": ("reconcile_grace", lambda n, v: _int(n, v, minimum=0)),
    "PROGRESS_TTL": ("progress_ttl", lambda n, v: _int(n, v, minimum=60)),
    "LOG_LEVEL": (
        "log_level",
        lambda n, v: _choice(n, v, ("debug", "info", "warning", "error")).upper(),
    ),
    # SigV4 signatures last at most 7 days.
    "PRESIGN_EXPIRY": ("presign_expiry", lambda n, v: _int(n, v, minimum=1, maximum=604800)),
    "CORS_ORIGINS": ("cors_origins", _origins),
    "EVENTS_WEBHOOK_SECRET": ("events_webhook_secret", _secret),
    "LOG_FORMAT": ("log_format", lambda n, v: _choice(n, v, ("json", "text"))),
    "METRICS_ENABLED": ("metrics_enabled", _bool),
    "METRICS_TOKEN": ("metrics_token", _metrics_token),
    "SOURCE_RETENTION_DAYS": ("source_retention_days", lambda n, v: _int(n, v, minimum=0)),
    "RESULT_RETENTION_DAYS": ("result_retention_days", lambda n, v: _int(n, v, minimum=0)),
    "S3_EVENTS_ARN": ("s3_events_arn", _arn),
    "OPTIONS_SECRET": ("options_secret", _secret),
    "OPTIONS_SECRET_OLD": ("options_secret_old", _old_secrets),
    "WEBHOOK_SECRET": ("webhook_secret", _secret),
    "WEBHOOK_ALLOW_PRIVATE": ("webhook_allow_private", _bool),
    "WEBHOOK_RETRIES": ("webhook_retries", lambda n, v: _int(n, v, minimum=0)),
    "WEBHOOK_RETRY_DELAY": ("webhook_retry_delay", lambda n, v: _float(n, v, minimum=0)),
    "WEBHOOK_TIMEOUT": ("webhook_timeout", lambda n, v: _float(n, v, minimum=0.1)),
    "WEBHOOK_MAX_CONCURRENT": ("webhook_max_concurrent", lambda n, v: _int(n, v, minimum=1)),
    "SOURCE_ALLOW_PRIVATE": ("source_allow_private", _bool),
    "TENANT_BUCKETS": ("tenant_buckets", _grants),
    "BATCH_LIST_PAGE_SIZE": (
        "batch_list_page_size",
        lambda n, v: _int(n, v, minimum=1, maximum=1000),
    ),
    "EVENTS_WINDOW_SECONDS": ("events_window_seconds", lambda n, v: _float(n, v, minimum=1)),
    "EVENTS_MAX_PER_TENANT": ("events_max_per_tenant", lambda n, v: _int(n, v, minimum=0)),
    "SOURCE_FETCH_TIMEOUT": ("source_fetch_timeout", lambda n, v: _float(n, v, minimum=0.1)),
    "RESULT_LINK_EXPIRY": (
        "result_link_expiry",
        lambda n, v: _int(n, v, minimum=1, maximum=604800),
    ),
    "DEFAULT_ENGINE": ("default_engine", lambda n, v: _choice(n, v, engine_registry.NAMES)),
    "PARALLEL_MIN_PAGES": ("parallel_min_pages", lambda n, v: _int(n, v, minimum=0)),
    "PART_PAGES": ("part_pages", lambda n, v: _int(n, v, minimum=1)),
    "DEDUP_ENABLED": ("dedup_enabled", _bool),
    "OCR_DEFAULT": ("ocr_default", lambda n, v: _choice(n, v, ("auto", "off"))),
    "OCR_LANGUAGES": ("ocr_languages", _ocr_languages),
    "TESSDATA_PREFIX": ("tessdata_prefix", lambda n, v: v.strip()),
    "OCR_DPI": ("ocr_dpi", lambda n, v: _int(n, v, minimum=72, maximum=600)),
    "OCR_PAGE_SECONDS": ("ocr_page_seconds", lambda n, v: _float(n, v, minimum=1)),
    "OCR_MEMORY_MB": ("ocr_memory_mb", lambda n, v: _int(n, v, minimum=0)),
    "PDFQ_ENV": ("environment", lambda n, v: _choice(n, v, ("development", "production"))),
    "API_TOKENS": ("api_tokens", _api_tokens),
    "TENANT_MAX_JOBS_IN_FLIGHT": (
        "tenant_max_jobs_in_flight",
        lambda n, v: _int(n, v, minimum=0),
    ),
    "QUEUE_MAX_PENDING": ("queue_max_pending", lambda n, v: _int(n, v, minimum=0)),
    "MAX_JSON_BYTES": ("max_json_bytes", lambda n, v: _int(n, v, minimum=1024)),
    "WEB_CONCURRENCY": ("web_concurrency", lambda n, v: _int(n, v, minimum=1)),
    "PROXY_HOPS": ("proxy_hops", lambda n, v: _int(n, v, minimum=0, maximum=5)),
    "MAX_PARTS_PER_JOB": ("max_parts_per_job", lambda n, v: _int(n, v, minimum=1)),
    "PART_WINDOW": ("part_window", lambda n, v: _int(n, v, minimum=0)),
    "MAX_METADATA_VALUE_CHARS": (
        "max_metadata_value_chars",
        lambda n, v: _int(n, v, minimum=16),
    ),
    "MAX_METADATA_CHARS": ("max_metadata_chars", lambda n, v: _int(n, v, minimum=16)),
    "MAX_TEXT_BYTES": ("max_text_bytes", lambda n, v: _int(n, v, minimum=1024)),
    "MAX_PAGES": ("max_pages", lambda n, v: _int(n, v, minimum=1)),
    "MAX_OCR_PAGES": ("max_ocr_pages", lambda n, v: _int(n, v, minimum=0)),
}

# Set by the platforms themselves, never by a user: where the service is reachable and
# whether a router stands in front of it (Heroku: DYNO on every dyno; Render: RENDER=true).
# HEROKU_APP_DEFAULT_DOMAIN_NAME needs `heroku labs:enable runtime-dyno-metadata`.
PLATFORM_URL_VARIABLES = ("RENDER_EXTERNAL_URL", "HEROKU_APP_DEFAULT_DOMAIN_NAME")


def _platform_defaults(env: Mapping[str, str]) -> dict[str, object]:
    """Defaults a platform implies: the page's own origin for CORS, one trusted router hop."""
    values: dict[str, object] = {}
    if env.get("RENDER_EXTERNAL_URL"):
        values["cors_origins"] = _origins("RENDER_EXTERNAL_URL", env["RENDER_EXTERNAL_URL"])
    elif env.get("HEROKU_APP_DEFAULT_DOMAIN_NAME"):
        domain = env["HEROKU_APP_DEFAULT_DOMAIN_NAME"].strip()
        values["cors_origins"] = _origins("HEROKU_APP_DEFAULT_DOMAIN_NAME", f"https://{domain}")
    if env.get("DYNO") or env.get("RENDER"):
        values["proxy_hops"] = 1  # the platform's router; nothing else can reach the process
    return values


def dotenv_file_values() -> dict[str, str]:
    """The development .env file's variables (PDFQ_ENV_FILE names it; "" reads none)."""
    env_file = os.environ.get("PDFQ_ENV_FILE", ".env")
    if not env_file:
        return {}
    return {k: v for k, v in dotenv_values(env_file).items() if v is not None}


def process_environment() -> dict[str, str]:
    """The environment to start a Procfile process with: the .env file under the real
    environment (which wins), exported as honcho and `heroku local` do, so the commands'
    own ${HUEY_WORKERS} and gunicorn's, boto3's and huey's readers all see one source."""
    return {**dotenv_file_values(), **os.environ}


def load_settings(environ: Mapping[str, str] | None = None, dotenv: bool = True) -> Settings:
    """Build Settings from `environ` (default: os.environ, over a .env file if one exists)."""
    env: dict[str, str] = {}
    if dotenv and environ is None:
        env.update(dotenv_file_values())  # PDFQ_ENV_FILE="" reads none; tests use that
    env.update(os.environ if environ is None else environ)

    values: dict[str, object] = _platform_defaults(env)
    redis_url = env.get("HUEY_REDIS_URL") or env.get("REDIS_URL") or ""
    source = "HUEY_REDIS_URL" if env.get("HUEY_REDIS_URL") else "REDIS_URL"
    values["redis_url"] = _url(source, redis_url, ("redis", "rediss", "unix"))
    for name, (field, parse) in _PARSERS.items():
        if name in env:
            if name == "CORS_ORIGINS" and not env[name].strip() and field in values:
                continue  # empty keeps the platform's own URL (a copied .env.example has it)
            values[field] = parse(name, env[name])
    return Settings(**values)


def settings_or_exit() -> Settings:
    """The settings a process starts with; a bad value stops it, naming the variable (exit 2)."""
    try:
        return load_settings()
    except SettingsError as exc:
        print(f"pdfq: bad configuration: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def setting_names() -> list[str]:
    """Every environment variable pdfq reads (kept in step with .env.example by a test)."""
    return sorted(["HUEY_REDIS_URL", "REDIS_URL", "PDFQ_ENV_FILE", *_PARSERS])


def platform_names() -> list[str]:
    """Variables the platforms set that pdfq reads for its defaults (never set by hand)."""
    return sorted([*PLATFORM_URL_VARIABLES, "DYNO", "RENDER"])
