"""Rebuild the index of failed, canceled and erased jobs (core/jobs/index.py) from the
records, which are the truth.

Every record is read and its entry written where missing; entries no record asks for are
removed once older than the grace (a younger one may belong to a write in progress). It is
for an operator whose records came back from a backup (`flask pdf reindex`): nothing runs it
on its own, and it reads every record once, a cost that is the bucket's.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from concurrent.futures import ThreadPoolExecutor

from core import keys
from core.errors import NotFound
from core.jobs import index
from core.jobs.model import Job
from core.jobs.records import JobRecords


@dataclasses.dataclass
class Rebuilt:
    records: int = 0
    added: int = 0
    removed: int = 0

    def __str__(self) -> str:
        return f"records: {self.records}, entries added: {self.added}, removed: {self.removed}"


def rebuild(records: JobRecords, grace_seconds: float) -> Rebuilt:
    storage, report = records.storage, Rebuilt()
    tenants = set(storage.list_folders(keys.RECORDS_PREFIX)) | set(records.index.tenants())
    for tenant in sorted(tenants):
        _rebuild_tenant(records, tenant, grace_seconds, report)
    return report


def _rebuild_tenant(records: JobRecords, tenant: str, grace_seconds: float, report: Rebuilt):
    present = {}
    for item in records.storage.list_objects(f"{keys.INDEX_PREFIX}{tenant}/"):
        if _is_entry(item["Key"]):
            present[item["Key"]] = item["LastModified"]

    def read(job_id: str) -> Job | None:
        try:
            return records.stored(job_id, tenant)
        except NotFound:
            return None  # removed since it was listed

    expected: set[str] = set()
    ids = [job_id for _, job_id in records.listed(tenant)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        for job in pool.map(read, ids):
            if job is None:
                continue
            report.records += 1
            wanted = index.expected_keys(job)
            missing = wanted - present.keys()
            records.index.add(*missing)
            report.added += len(missing)
            expected |= wanted
    cutoff = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=grace_seconds)
    stale = [key for key, at in present.items() if key not in expected and at < cutoff]
    records.index.remove(*stale)
    report.removed += len(stale)


def _is_entry(key: str) -> bool:
    try:
        keys.parse_index_key(key)
    except ValueError:
        return False
    return True
