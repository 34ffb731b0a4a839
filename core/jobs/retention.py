"""When retention removes a job's objects, derived from its record (no sweep, no extra state).

The lifecycle rules (infra/bucket.py) expire sources/ SOURCE_RETENTION_DAYS and results/
RESULT_RETENTION_DAYS after they were written; S3 rounds each expiry up to the next midnight
UTC. Job records (jobs/) are kept, so a purged job still answers: 410 with `purged_at`.
"""

from __future__ import annotations

import datetime as dt

from core.clock import parse_time
from core.errors import ResultExpired, SourceExpired
from core.jobs.model import Job


def expiry(written_at: str | None, days: int) -> str | None:
    """When an object written at `written_at` expires under a `days` rule (None: never)."""
    if not days or not written_at:
        return None
    due = parse_time(written_at) + dt.timedelta(days=days)
    midnight = dt.datetime.combine(due.date(), dt.time(), tzinfo=dt.UTC)
    if midnight < due:
        midnight += dt.timedelta(days=1)
    return midnight.strftime("%Y-%m-%dT%H:%M:%SZ")


def source_expires_at(job: Job, days: int) -> str | None:
    return expiry(job.created_at, days)


def result_expires_at(job: Job, days: int) -> str | None:
    return expiry(job.finished_at, days)


def source_expired(job: Job, days: int) -> SourceExpired:
    """The 410 for a job whose PDF is gone, with when the rule removed it (if a rule did)."""
    when = source_expires_at(job, days)
    message = f"Job {job.id}'s PDF was purged by retention (SOURCE_RETENTION_DAYS)"
    return SourceExpired(f"{message} at {when}." if when else message + ".", purged_at=when)


def result_expired(job: Job, days: int) -> ResultExpired:
    when = result_expires_at(job, days)
    message = f"Job {job.id}'s result was purged by retention (RESULT_RETENTION_DAYS)"
    return ResultExpired(f"{message} at {when}." if when else message + ".", purged_at=when)
