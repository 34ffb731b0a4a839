"""Buckets of other S3-compatible stores that an operator grants a tenant (TENANT_BUCKETS).

A grant names the store (its endpoint, region and keys: configured, never sent by a client),
a bucket, a source prefix and a result prefix. A job may name `source: {"bucket", "key"}`:
the web checks the key is under the tenant's source prefix in a bucket granted to it (403
otherwise, whatever the key; nothing is read then), and the worker reads it from that store
into the job's source key, so the job goes on as an upload's. When the tenant's grant has a
result prefix, every job of the tenant that succeeds also gets its result object copied to
`<result prefix><job id>.jsonl` in that bucket. A batch may name a prefix under the source
prefix instead of keys: a worker lists it (core/jobs/batch_listing.py).
"""

from __future__ import annotations

import dataclasses
import threading

from core.adapters.storage import Storage
from core.errors import BadRequest, Forbidden
from core.settings import BucketGrant, Settings

_stores: dict[BucketGrant, Storage] = {}
_lock = threading.Lock()
PREFIX_FIELDS = {"bucket", "prefix", "start_after"}


def checked_source(settings: Settings, tenant: str, source) -> dict:
    """{"bucket", "key"} if `tenant` may read it; 400 when malformed, 403 when not granted."""
    if not isinstance(source, dict) or set(source) != {"bucket", "key"}:
        raise BadRequest("Field 'source' must be an object with 'bucket' and 'key'.")
    bucket, key = source["bucket"], source["key"]
    if not isinstance(bucket, str) or not isinstance(key, str) or not key or len(key) > 1024:
        raise BadRequest("Field 'source': 'bucket' and 'key' are strings (a key of 1-1024).")
    for grant in settings.tenant_buckets:
        if grant.tenant == tenant and grant.bucket == bucket:
            inside = key.startswith(grant.source_prefix) and ".." not in key.split("/")
            if inside and not key.endswith("/"):
                return {"bucket": bucket, "key": key}
    raise Forbidden(
        "Field 'source': that key is not under a source prefix granted to you "
        "(TENANT_BUCKETS, set by the operator)."
    )


def checked_prefix(settings: Settings, tenant: str, source) -> dict:
    """{"bucket", "prefix"[, "start_after"]} if `tenant` may list it: the prefix starts with
    the tenant's source prefix in that bucket (it may be the source prefix itself); 400 when
    malformed, 403 when not granted."""
    if not isinstance(source, dict) or not {"bucket", "prefix"} <= set(source) <= PREFIX_FIELDS:
        raise BadRequest("A prefix is {'bucket', 'prefix'} and an optional 'start_after'.")
    values = [source["bucket"], source["prefix"], source.get("start_after", "")]
    if not all(isinstance(v, str) and len(v) <= 1024 for v in values):
        raise BadRequest("'bucket', 'prefix' and 'start_after' are strings (of 1024 at most).")
    bucket, prefix = source["bucket"], source["prefix"]
    for grant in settings.tenant_buckets:
        mine = grant.tenant == tenant and grant.bucket == bucket
        if mine and prefix.startswith(grant.source_prefix) and ".." not in prefix.split("/"):
            return {k: v for k, v in source.items() if k != "start_after" or v}
    raise Forbidden(
        "That prefix is not under a source prefix granted to you "
        "(TENANT_BUCKETS, set by the operator)."
    )


def source_grant(settings: Settings, tenant: str, bucket: str) -> BucketGrant:
    for grant in settings.tenant_buckets:
        if grant.tenant == tenant and grant.bucket == bucket:
            return grant
    raise Forbidden(f"The bucket {bucket!r} is no longer granted to this tenant.")


def result_grant(settings: Settings, tenant: str) -> BucketGrant | None:
    """The tenant's grant with a result prefix, if it has one."""
    return next(
        (g for g in settings.tenant_buckets if g.tenant == tenant and g.result_prefix), None
    )


def store(settings: Settings, grant: BucketGrant) -> Storage:
    """The granted bucket's client, one per grant and process, signing with its own keys."""
    with _lock:
        if grant not in _stores:
            view = dataclasses.replace(
                settings,
                s3_bucket=grant.bucket,
                s3_endpoint_url=grant.endpoint_url,
                s3_public_endpoint_url="",
                s3_region=grant.region,
            )
            signing = (grant.access_key_id, grant.secret_access_key)
            _stores[grant] = Storage(view, keys=signing if grant.access_key_id else None)
        return _stores[grant]
