"""Timestamps as every record and response writes them: ISO 8601, UTC, milliseconds, `Z`."""

from __future__ import annotations

import datetime as dt


def utcnow() -> str:
    """Now, in the one format records and responses use."""
    return utc_after(0)


def utc_after(seconds: float) -> str:
    """The timestamp `seconds` from now, in the same format as utcnow()."""
    when = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=seconds)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def parse_time(value: str) -> dt.datetime:
    """A timestamp as utcnow() writes it (or any ISO 8601 time with an offset), made aware."""
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


def parse_client_time(value: str) -> dt.datetime:
    """An ISO 8601 time a client sent, made aware: `Z` accepted, no offset taken as UTC.
    ValueError when it is not one."""
    when = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    return when if when.tzinfo is not None else when.replace(tzinfo=dt.UTC)


def seconds_since(value: str) -> float:
    """How long ago the timestamp `value` was."""
    return (dt.datetime.now(dt.UTC) - parse_time(value)).total_seconds()
