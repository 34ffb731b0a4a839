"""A job's results in storage: written by the worker, read by the API, the CLI and dedup.

Five objects under results/<tenant>/<job>/: text.txt (every page followed by a form feed,
as pdfminer's extract_text writes it), pages.jsonl (one JSON object per page), result.json
(the document summary), blocks.jsonl (each page's text blocks with their kinds) and
document.md (the document as Markdown), the last two made by core/jobs/structure.py. A job
run twice writes the same keys. Pages go to storage and come back one at a time: neither
the worker nor the web ever holds a document's whole text. Results may
expire by a lifecycle rule (RESULT_RETENTION_DAYS) before the record: reading one that is
gone is a 410 with the time it was purged.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterable, Iterator

from core import keys
from core.adapters.storage import Storage
from core.errors import Conflict, ObjectMissing, ResultNotReady
from core.jobs import structure
from core.jobs.model import Job, JobStatus
from core.jobs.retention import result_expired

# ?format= -> the stored file it is read from, and its media type.
FORMATS = {
    "text": ("text.txt", "text/plain; charset=utf-8"),
    "json": ("result.json", "application/json"),
    "pages": ("pages.jsonl", "application/x-ndjson; charset=utf-8"),
    "blocks": ("blocks.jsonl", "application/x-ndjson; charset=utf-8"),
    "markdown": ("document.md", "text/markdown; charset=utf-8"),
}
FORMATS_BY_FILE = {name: media for name, media in FORMATS.values()}


def write(storage: Storage, tenant: str, job_id: str, pages: Iterable[dict], summary: dict):
    """Store the pages (each {"page", "text", ...}, read once, one at a time) and the summary
    as the job's results; every file is spooled to disk and streamed up. A page's "blocks"
    (None where its engine gave none: split from its text) go to blocks.jsonl and
    document.md, not to pages.jsonl."""
    fonts = structure.Fonts()
    with (
        tempfile.TemporaryFile() as text,
        tempfile.TemporaryFile() as lines,
        tempfile.TemporaryFile() as blocks,
    ):
        for page in pages:
            found = page.pop("blocks", None)
            if found is None:
                found = structure.fallback_blocks(page["text"])
            fonts.add(found)
            text.write((page["text"] + "\f").encode("utf-8"))
            lines.write(_json_line(page))
            blocks.write(_json_line({"page": page["page"], "blocks": found}))
        for fileobj, name in ((text, "text.txt"), (lines, "pages.jsonl")):
            _upload(storage, keys.result_key(tenant, job_id, name), fileobj)
        blocks.seek(0)
        _write_structure(storage, tenant, job_id, blocks, fonts, summary.get("outline") or [])
    storage.put_json(keys.result_key(tenant, job_id, "result.json"), {"job_id": job_id, **summary})


def _write_structure(storage: Storage, tenant: str, job_id: str, spooled, fonts, outline):
    """blocks.jsonl and document.md from the spooled blocks, a page at a time: one pass gives
    each block its kind and finds the heading sizes, the next ranks them into levels and
    writes both files (core/jobs/structure.py's classify, over a file)."""
    headings: set[float] = set()
    with (
        tempfile.TemporaryFile() as kinded,
        tempfile.TemporaryFile() as classified,
        tempfile.TemporaryFile() as document,
    ):
        for line in spooled:  # a binary file splits on \n only, as JSON lines need
            page = json.loads(line)
            headings |= structure.kinds(page["blocks"], fonts)
            kinded.write(_json_line(page))
        levels = structure.heading_levels(headings)
        kinded.seek(0)

        def leveled():
            for line in kinded:
                page = json.loads(line)
                structure.set_levels(page["blocks"], levels)
                classified.write(_json_line(page))
                yield page

        structure.write_markdown(document, leveled(), outline)
        for fileobj, name in ((classified, "blocks.jsonl"), (document, "document.md")):
            _upload(storage, keys.result_key(tenant, job_id, name), fileobj)


def _json_line(item: dict) -> bytes:
    return (json.dumps(item, ensure_ascii=False) + "\n").encode("utf-8")


def _upload(storage: Storage, key: str, fileobj):
    fileobj.seek(0)
    storage.upload_file(key, fileobj, FORMATS_BY_FILE[key.rsplit("/", 1)[-1]], {})


def read(storage: Storage, tenant: str, job_id: str) -> tuple[dict, list[dict]]:
    """(summary, pages) of a job's stored results; ObjectMissing when they are gone."""
    summary, _ = storage.get_json(keys.result_key(tenant, job_id, "result.json"))
    raw = storage.get_bytes(keys.result_key(tenant, job_id, "pages.jsonl"))
    # Split bytes on \n only: page text may hold U+2028 and the like, which JSON keeps.
    return summary, [json.loads(line) for line in raw.split(b"\n") if line]


def copy(storage: Storage, tenant: str, earlier: str, job_id: str, summary: dict):
    """Job `earlier`'s results as `job_id`'s: each file copied inside the store (none passes
    through this process, whatever its size), then the summary under the new id, last, as
    `write` does. ObjectMissing when one of the earlier files is gone."""
    for name in keys.RESULT_FILES:
        if name != "result.json":
            storage.copy(
                keys.result_key(tenant, earlier, name), keys.result_key(tenant, job_id, name)
            )
    storage.put_json(keys.result_key(tenant, job_id, "result.json"), {**summary, "job_id": job_id})


def stream_lines(storage: Storage, key: str) -> Iterator[bytes]:
    """The object's lines (split on \n only: page text may hold U+2028, which JSON keeps),
    read chunk by chunk."""
    rest = b""
    for chunk in storage.stream(key):
        rest += chunk
        *complete, rest = rest.split(b"\n")
        yield from (line for line in complete if line)
    if rest:
        yield rest


def require_succeeded(job: Job):
    """Conflict for a failed job, ResultNotReady (409) for one that has not finished."""
    if job.status is JobStatus.FAILED:
        code = (job.error or {}).get("code", "failed")
        raise Conflict(f"Job {job.id} failed ({code}); it has no result.")
    if job.status is not JobStatus.SUCCEEDED:
        raise ResultNotReady(f"Job {job.id} is {job.status.value}; poll its status URL.")


def document(storage: Storage, job: Job, retention_days: int) -> dict:
    """The result as `?format=json` shows it: the summary, the warnings and every page."""
    require_succeeded(job)
    try:
        summary, pages = read(storage, job.tenant, job.id)
    except ObjectMissing:
        raise result_expired(job, retention_days) from None
    return {**summary, "warnings": job.warnings, "pages": pages}


def document_chunks(storage: Storage, job: Job, retention_days: int) -> Iterator[bytes]:
    """`?format=json` as chunks: the summary and warnings, then the stored pages copied one
    line at a time into the "pages" array. The body is never built whole."""
    require_succeeded(job)
    try:
        summary, _ = storage.get_json(keys.result_key(job.tenant, job.id, "result.json"))
        lines = stream_lines(storage, keys.result_key(job.tenant, job.id, "pages.jsonl"))
        first = next(lines, None)  # opens the pages object now: gone is a 410, not a cut body
    except ObjectMissing:
        raise result_expired(job, retention_days) from None
    head = json.dumps({**summary, "warnings": job.warnings, "pages": []}, ensure_ascii=False)

    def body() -> Iterator[bytes]:
        yield head[:-2].encode("utf-8")  # up to the opening bracket of "pages": [
        if first is not None:
            yield first
            for line in lines:
                yield b"," + line
        yield b"]}"

    return body()


def chunks(storage: Storage, job: Job, fmt: str, retention_days: int) -> Iterator[bytes]:
    """The stored file of `fmt` (any but "json"), streamed in chunks."""
    require_succeeded(job)
    try:
        return storage.stream(keys.result_key(job.tenant, job.id, FORMATS[fmt][0]))
    except ObjectMissing:
        raise _missing(storage, job, fmt, retention_days) from None


def _missing(storage: Storage, job: Job, fmt: str, retention_days: int) -> Exception:
    """Gone with the rest (expired), or never written: results kept before the format was."""
    try:
        storage.head(keys.result_key(job.tenant, job.id, "result.json"))
    except ObjectMissing:
        return result_expired(job, retention_days)
    return Conflict(
        f"Job {job.id}'s result has no {fmt!r} format (it was stored before pdfq made it); "
        "reprocess the job to get it."
    )


def stored_key(storage: Storage, job: Job, fmt: str, retention_days: int) -> tuple[str, int]:
    """(key, size) of the stored file of `fmt`, for a presigned download link."""
    require_succeeded(job)
    key = keys.result_key(job.tenant, job.id, FORMATS[fmt][0])
    try:
        return key, storage.head(key)["ContentLength"]
    except ObjectMissing:
        raise _missing(storage, job, fmt, retention_days) from None
