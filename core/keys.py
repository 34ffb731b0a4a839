"""The object key layout: the only place that knows where a job's objects live.

Prefixes by kind (sources/, results/, jobs/) so lifecycle rules can expire each kind alone;
the tenant comes next so every tenant's objects sit under their own prefix. inbox/<tenant>/
is where any tool may drop PDFs; pdfq moves each one to sources/ as a new job.
"""

from __future__ import annotations

import re
import uuid

_JOB_ID = re.compile(r"^[0-9a-f]{32}$")
_SOURCE_KEY = re.compile(r"^sources/(?P<tenant>[a-z0-9_-]{1,64})/(?P<job_id>[0-9a-f]{32})\.pdf$")
_INBOX_KEY = re.compile(r"^inbox/(?P<tenant>[a-z0-9_-]{1,64})/(?P<path>.*[^/])$")
# Fixed, so that one version of one object always derives the same job id, in every process.
_OBJECT_JOBS = uuid.UUID("6f1c4c55-0b5e-4a8e-9a43-2f5d1c9e7b10")

_RECORD_KEY = re.compile(r"^jobs/(?P<tenant>[a-z0-9_-]{1,64})/(?P<job_id>[0-9a-f]{32})\.json$")

DEFAULT_TENANT = "public"
# Each kind of object under its own prefix: lifecycle rules and listings rely on these.
SOURCES_PREFIX, RECORDS_PREFIX, RESULTS_PREFIX = "sources/", "jobs/", "results/"
INBOX_PREFIX = "inbox/"
RESULT_FILES = ("text.txt", "pages.jsonl", "result.json")


def new_job_id() -> str:
    return uuid.uuid4().hex


def object_job_id(bucket: str, key: str, etag: str) -> str:
    """The job id for one version of a stored object: a repeated event names the same job."""
    version = etag.strip('"')  # S3 quotes ETags in headers but not in event records
    return uuid.uuid5(_OBJECT_JOBS, f"{bucket}\n{key}\n{version}").hex


def is_job_id(value: str) -> bool:
    return bool(_JOB_ID.match(value))


def source_key(tenant: str, job_id: str) -> str:
    return f"sources/{tenant}/{job_id}.pdf"


def record_key(tenant: str, job_id: str) -> str:
    return f"jobs/{tenant}/{job_id}.json"


def result_key(tenant: str, job_id: str, name: str) -> str:
    if name not in RESULT_FILES:
        raise ValueError(f"unknown result file {name!r}")
    return f"results/{tenant}/{job_id}/{name}"


def part_key(tenant: str, job_id: str, run: str, first: int, last: int) -> str:
    """Pages first..last of a page-parallel job, as one part extracted them (issue 7)."""
    return f"{PARTS_PREFIX}{tenant}/{job_id}/{run}/{first:06d}-{last:06d}.json"


def dedup_key(tenant: str, sha256: str, options_digest: str) -> str:
    """Which job already extracted these bytes with these options, per tenant (issue 7)."""
    return f"{DEDUP_PREFIX}{tenant}/{sha256}/{options_digest}.json"


PARTS_PREFIX, DEDUP_PREFIX = "parts/", "dedup/"


def active_key(tenant: str, job_id: str) -> str:
    """A marker that exists while the job is not terminal, so recovery can list open jobs."""
    return f"active/{tenant}/{job_id}"


ACTIVE_PREFIX = "active/"


def active_prefix(tenant: str) -> str:
    """Where one tenant's open jobs are listed (their count is its jobs in flight)."""
    return f"{ACTIVE_PREFIX}{tenant}/"


def parse_active_key(key: str) -> tuple[str, str]:
    _, tenant, job_id = key.split("/", 2)
    return tenant, job_id


def parse_source_key(key: str) -> tuple[str, str]:
    """(tenant, job_id) of a source key; ValueError for any other key."""
    match = _SOURCE_KEY.match(key)
    if not match:
        raise ValueError(f"not a pdfq source key: {key!r}")
    return match["tenant"], match["job_id"]


def parse_inbox_key(key: str) -> tuple[str, str]:
    """(tenant, file name) of an object dropped in the inbox; ValueError for any other key."""
    match = _INBOX_KEY.match(key)
    if not match:
        raise ValueError(f"not an inbox key (inbox/<tenant>/<name>): {key!r}")
    return match["tenant"], match["path"].rsplit("/", 1)[-1]


def parse_record_key(key: str) -> tuple[str, str]:
    """(tenant, job_id) of a job record key; ValueError for any other key."""
    match = _RECORD_KEY.match(key)
    if not match:
        raise ValueError(f"not a pdfq job record key: {key!r}")
    return match["tenant"], match["job_id"]
