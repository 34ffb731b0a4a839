"""Rebuild the job index (core/jobs/index.py) from the records, which are the truth.

Every record is read and its entries written where missing; entries no record asks for are
removed once older than the grace (a younger one may belong to a write in progress). Then
keys.INDEX_BUILT says when. Recovery runs this when that marker is missing: on the first pass
after the index was introduced to a bucket with older records, or after someone removed the
marker to ask for a rebuild (e.g. after restoring records from a backup). `flask pdf reindex`
runs it on demand. It reads every record once: its cost is the bucket's, paid only then.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from concurrent.futures import ThreadPoolExecutor

from core import keys
from core.clock import utcnow
from core.errors import NotFound, ObjectMissing
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


def needed(records: JobRecords) -> bool:
    """No rebuild has finished in this bucket yet (or its marker was removed to ask for one)."""
    try:
        records.storage.head(keys.INDEX_BUILT)
    except ObjectMissing:
        return True
    return False


def rebuild(records: JobRecords, grace_seconds: float) -> Rebuilt:
    storage, report = records.storage, Rebuilt()
    tenants = set(storage.list_folders(keys.RECORDS_PREFIX)) | set(records.index.tenants())
    for tenant in sorted(tenants):
        _rebuild_tenant(records, tenant, grace_seconds, report)
    storage.put_json(keys.INDEX_BUILT, {"rebuilt_at": utcnow(), **dataclasses.asdict(report)})
    return report


def _rebuild_tenant(records: JobRecords, tenant: str, grace_seconds: float, report: Rebuilt):
    present = {}
    for item in records.storage.list_objects(f"{keys.INDEX_PREFIX}{tenant}/"):
        if _is_entry(item["Key"]):
            present[item["Key"]] = item["LastModified"]

    def read(job_id: str) -> Job | None:
        try:
            return records.get(job_id, tenant, tombstone=True)
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
