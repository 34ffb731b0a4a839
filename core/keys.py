"""The object key layout: the only place that knows where a job's objects live.

Prefixes by kind (sources/, results/, jobs/) so lifecycle rules can expire each kind alone;
the tenant comes next so every tenant's objects sit under their own prefix.
"""

from __future__ import annotations

import re
import uuid

_JOB_ID = re.compile(r"^[0-9a-f]{32}$")
_SOURCE_KEY = re.compile(r"^sources/(?P<tenant>[a-z0-9_-]{1,64})/(?P<job_id>[0-9a-f]{32})\.pdf$")

_RECORD_KEY = re.compile(r"^jobs/(?P<tenant>[a-z0-9_-]{1,64})/(?P<job_id>[0-9a-f]{32})\.json$")

DEFAULT_TENANT = "public"
# Each kind of object under its own prefix: lifecycle rules and listings rely on these.
SOURCES_PREFIX, RECORDS_PREFIX, RESULTS_PREFIX = "sources/", "jobs/", "results/"
RESULT_FILES = ("text.txt", "pages.jsonl", "result.json")


def new_job_id() -> str:
    return uuid.uuid4().hex


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


def parse_source_key(key: str) -> tuple[str, str]:
    """(tenant, job_id) of a source key; ValueError for any other key."""
    match = _SOURCE_KEY.match(key)
    if not match:
        raise ValueError(f"not a pdfq source key: {key!r}")
    return match["tenant"], match["job_id"]


def parse_record_key(key: str) -> tuple[str, str]:
    """(tenant, job_id) of a job record key; ValueError for any other key."""
    match = _RECORD_KEY.match(key)
    if not match:
        raise ValueError(f"not a pdfq job record key: {key!r}")
    return match["tenant"], match["job_id"]
