"""A batch's granted prefixes listed into sources, by the worker that makes its jobs.

A source {"list": {"bucket", "prefix"[, "start_after"]}} (the web checked it is under the
tenant's granted source prefix) becomes one source {"object": {"bucket", "key"}, "filename"}
per object under it, in key order, page after page (ListObjectsV2, BATCH_LIST_PAGE_SIZE keys a
request, following its continuation token), in the place the prefix had among the sources.
Keys ending in "/" (folder markers) are left out; every other object becomes a job, so one
that is not a PDF fails `not_a_pdf` as an upload would. The batch never has more than its
`limit` sources: the listing stops there, and the summary's `next` holds the sources to send
in another batch to go on (the prefix with `start_after` its last key listed, and any prefix
not listed at all).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from core.adapters import granted
from core.errors import Forbidden
from core.filenames import clean_filename
from core.settings import Settings

log = logging.getLogger("pdfq.batches")


def pending(sources: list[dict]) -> bool:
    """Whether some source is a prefix still to list."""
    return any("list" in source for source in sources)


def expand(
    settings: Settings,
    tenant: str,
    sources: list[dict],
    limit: int,
    on_page: Callable[[], object] = lambda: None,
) -> tuple[list[dict], dict]:
    """(the sources with each prefix replaced by its objects, the listing's summary:
    {"done", "listed", "truncated", "next", "errors"})."""
    room = limit - sum(1 for source in sources if "list" not in source)
    found: list[dict] = []
    following: list[dict] = []  # what another batch would list to go on
    errors: list[dict] = []
    listed = 0
    for source in sources:
        if "list" not in source:
            found.append(source)
            continue
        where = source["list"]
        if following:  # the batch is full: this prefix is for the next one
            following.append(where)
            continue
        last = where.get("start_after")
        try:
            for key in _keys(settings, tenant, where, on_page):
                if listed >= room:
                    following.append({**where, "start_after": last} if last else dict(where))
                    break
                found.append({"object": {"bucket": where["bucket"], "key": key}})
                found[-1]["filename"] = clean_filename(key)
                listed, last = listed + 1, key
        except Forbidden as refused:  # the grant was withdrawn since the batch was sent
            errors.append({**where, "code": refused.code, "message": refused.message})
    summary = {"done": True, "listed": listed, "truncated": bool(following), "next": following}
    if errors:
        summary["errors"] = errors
    return found, summary


def _keys(settings: Settings, tenant: str, where: dict, on_page: Callable[[], object]):
    """The keys under the prefix, after `start_after`, a page at a time."""
    store = granted.store(settings, granted.source_grant(settings, tenant, where["bucket"]))
    pages = store.list_pages(
        where["prefix"],
        start_after=where.get("start_after", ""),
        page_size=settings.batch_list_page_size,
    )
    for page in pages:
        named = f"s3://{where['bucket']}/{where['prefix']}"
        log.info("listed a page of %s: %d keys", named, len(page))
        on_page()
        for item in page:
            if not item["Key"].endswith("/"):
                yield item["Key"]
