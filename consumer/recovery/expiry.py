"""Retention where the bucket cannot expire objects itself (no lifecycle rules: s3rver,
some compatible stores): delete sources/ SOURCE_RETENTION_DAYS and results/
RESULT_RETENTION_DAYS after they were written, by the same rule S3 applies (at the first
midnight UTC past the age; core/jobs/retention.py), so a purged job answers the same 410.

Run every hour by a Huey periodic task; on a store with lifecycle rules it does nothing.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging

from core import keys
from core.jobs.retention import expiry
from core.services import Services

log = logging.getLogger("pdfq.recovery")


@dataclasses.dataclass
class Expired:
    sources: int = 0
    results: int = 0
    skipped: bool = False  # the store expires objects itself


def apply_retention(services: Services, now: dt.datetime | None = None) -> Expired:
    """Delete every source and result older than its retention, unless the store does it."""
    storage, settings = services.storage, services.settings
    done = Expired()
    if storage.capabilities().lifecycle:
        done.skipped = True
        return done
    now = now or dt.datetime.now(dt.UTC)
    for kind, prefix, days in (
        ("sources", keys.SOURCES_PREFIX, settings.source_retention_days),
        ("results", keys.RESULTS_PREFIX, settings.result_retention_days),
    ):
        if not days:  # 0 keeps them forever
            continue
        for item in storage.list_objects(prefix):
            written = item["LastModified"].astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            due = expiry(written, days)
            if due is not None and due <= now.strftime("%Y-%m-%dT%H:%M:%SZ"):
                storage.delete(item["Key"])
                setattr(done, kind, getattr(done, kind) + 1)
    if done.sources or done.results:
        log.warning(
            "retention (the store has no lifecycle rules): %d sources and %d result files deleted",
            done.sources,
            done.results,
        )
    return done
