"""A job's result in storage: one object per run, written by the worker, read by the API, the
CLI and dedup.

results/<tenant>/<job>/<run>.jsonl holds the whole result: its first line is the document's
summary (page count, characters, metadata, quality, engine, outline), every other line one
page (its text, quality flags and, when the job asked for structure, its blocks with their
kinds). One object, written once with a single request, so a reader never sees half a
result, and two runs of one job (a worker presumed dead that was not) never write the same
key: the record names the run whose result it kept. Every format is read from it as it
streams: `text` is each page's text followed by a form feed, exactly as pdfminer's
extract_text writes a document; `pages` the page lines; `json` the summary with every page;
`blocks` and `markdown` each page's blocks, when the job computed them. A download link asks
for a format as a file: it is written beside the object the first time
(keys.result_file_key) and kept as long as the result. Neither the worker nor the web ever
holds a document's whole text. Results may expire by a lifecycle rule (RESULT_RETENTION_DAYS)
before the record: reading one that is gone is a 410 with the time it was purged.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import itertools
import json
import secrets
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator

from core import keys
from core.adapters.storage import Storage
from core.errors import BadRequest, Conflict, NotFound, ObjectMissing, ResultNotReady
from core.jobs import added, chunking, structure
from core.jobs.model import Job, JobStatus
from core.jobs.retention import result_expired

# ?format= -> the file it is offered as for a download link, and its media type.
FORMATS = {
    "text": ("text.txt", "text/plain; charset=utf-8"),
    "json": ("result.json", "application/json"),
    "pages": ("pages.jsonl", "application/x-ndjson; charset=utf-8"),
    "blocks": ("blocks.jsonl", "application/x-ndjson; charset=utf-8"),
    "markdown": ("document.md", "text/markdown; charset=utf-8"),
    "tables": ("tables.jsonl", "application/x-ndjson; charset=utf-8"),
    "csv": ("table.csv", "text/csv; charset=utf-8"),
    "chunks": ("chunks.jsonl", "application/x-ndjson; charset=utf-8"),
    "figures": ("figures.jsonl", "application/x-ndjson; charset=utf-8"),
}
# Formats with no download link: one table's CSV is small, and the figures' manifest holds
# links of its own, which would expire inside a stored file.
UNLINKED = ("csv", "figures")
# Formats made from each page's blocks or tables: only jobs that asked for them (the
# `outputs` option), each format with the output it needs.
NEEDS = {
    "blocks": "blocks",
    "markdown": "blocks",
    "chunks": "blocks",
    "tables": "tables",
    "csv": "tables",
    "figures": "figures",
}
# Extras a page line may carry, left out of the text, pages and json formats.
PAGE_EXTRAS = ("blocks", "tables")
MEDIA_TYPE = "application/x-ndjson; charset=utf-8"


def new_run() -> str:
    """The name of one run's result object."""
    return secrets.token_hex(6)


def write(
    storage: Storage,
    key: str,
    pages: Iterable[dict],
    summary: dict,
    *,
    structure_wanted: bool,
    late: Callable[[], dict] | None = None,
) -> int:
    """Store `summary` and the pages (each {"page", "text", ...}, read once, one at a time) as
    the result object `key`; the object's size in bytes. With `structure_wanted`, each page's
    "blocks" (None where its engine gave none: split from its text) get their kinds, which
    need the whole document: the pages are spooled and read again. `late` gives the summary
    fields known once every page is read (the document's language); they join it."""
    with tempfile.TemporaryFile() as lines, tempfile.TemporaryFile() as body:
        fonts = structure.Fonts()
        for page in pages:
            blocks = page.pop("blocks", None)
            if structure_wanted:
                page["blocks"] = (
                    structure.fallback_blocks(page["text"]) if blocks is None else blocks
                )
                fonts.add(page["blocks"])
            lines.write(_json_line(page))
        body.write(_json_line({**summary, **(late() if late else {})}))
        lines.seek(0)
        if structure_wanted:
            _with_kinds(lines, body, fonts)
        else:
            shutil.copyfileobj(lines, body)
        size = body.tell()
        body.seek(0)
        storage.upload_file(key, body, MEDIA_TYPE, {})
    return size


def _with_kinds(lines, out, fonts: structure.Fonts):
    """Copy the spooled page lines to `out`, each block given its kind and heading level: one
    pass finds the heading sizes, the next ranks them (core/jobs/structure.py)."""
    headings: set[float] = set()
    for line in lines:  # a binary file splits on \n only, as JSON lines need
        headings |= structure.kinds(json.loads(line)["blocks"], fonts)
    levels = structure.heading_levels(headings)
    lines.seek(0)
    for line in lines:
        page = json.loads(line)
        structure.kinds(page["blocks"], fonts)
        structure.set_levels(page["blocks"], levels)
        out.write(_json_line(page))


def _json_line(item: dict) -> bytes:
    return (json.dumps(item, ensure_ascii=False) + "\n").encode("utf-8")


def copy(storage: Storage, earlier: str, key: str):
    """An earlier run's result object as this run's, copied inside the store (none of it
    passes through this process). ObjectMissing when it is gone."""
    storage.copy(earlier, key)


def stream_lines(storage: Storage, key: str) -> Iterator[bytes]:
    """The object's lines (split on \\n only: page text may hold U+2028, which JSON keeps),
    read chunk by chunk."""
    rest = b""
    for chunk in storage.stream(key):
        rest += chunk
        *complete, rest = rest.split(b"\n")
        yield from (line for line in complete if line)
    if rest:
        yield rest


def read(storage: Storage, key: str) -> tuple[dict, list[dict]]:
    """(summary, pages) of a stored result; ObjectMissing when it is gone."""
    lines = stream_lines(storage, key)
    summary = json.loads(next(lines))
    return summary, [json.loads(line) for line in lines]


def require_succeeded(job: Job):
    """Conflict for a failed job, ResultNotReady (409) for one that has not finished."""
    if job.status is JobStatus.FAILED:
        code = (job.error or {}).get("code", "failed")
        raise Conflict(f"Job {job.id} failed ({code}); it has no result.")
    if job.status is not JobStatus.SUCCEEDED:
        raise ResultNotReady(f"Job {job.id} is {job.status.value}; poll its status URL.")


def result_key(job: Job) -> str | None:
    """The key of the job's result object, as its record names it."""
    return (job.result or {}).get("key")


def _opened(storage: Storage, job: Job, fmt: str, retention_days: int):
    """(summary, the page lines after it) of the job's result, opened now: a result that is
    gone is a 410 here, not a cut body later."""
    key = _checked(job, fmt, retention_days)
    try:
        lines = stream_lines(storage, key)
        summary = json.loads(next(lines))
    except (ObjectMissing, StopIteration):
        raise result_expired(job, retention_days) from None
    return summary, lines


def _checked(job: Job, fmt: str, retention_days: int) -> str:
    """The key of the job's result, once the job is known to have format `fmt`."""
    require_succeeded(job)
    key = result_key(job)
    needed = NEEDS.get(fmt)
    if needed and needed not in added.computed(job):
        _not_computed(job, fmt, needed)
    if key is None:
        raise result_expired(job, retention_days)
    return key


def _not_computed(job: Job, fmt: str, needed: str):
    """409 for a format whose output the job does not have, saying how to get it."""
    now = added.of(job)
    if needed in now["pending"]:
        raise ResultNotReady(
            f"Job {job.id}'s {needed} are being made; poll the job until they are in its `outputs`."
        )
    failed = now["failed"].get(needed)
    why = f" (adding them failed: {failed.get('code')})" if failed else ""
    if needed in added.ADDABLE:
        raise Conflict(
            f"Job {job.id} did not compute its {needed}{why}, so it has no {fmt!r} format: "
            f'add them with POST /jobs/{job.id}/outputs {{"outputs": ["{needed}"]}}.'
        )
    asked = fmt if fmt in ("markdown", "chunks") else needed
    raise Conflict(
        f"Job {job.id} did not compute its {needed}, so it has no {fmt!r} format: "
        f'reprocess it with {{"outputs": "{asked}"}} (or send outputs={asked} with the PDF).'
    )


def chunks(
    storage: Storage,
    job: Job,
    fmt: str,
    retention_days: int,
    *,
    table: int | None = None,
    url: str = "",
    link_seconds: int = 3600,
) -> Iterator[bytes]:
    """The job's result in format `fmt`, as chunks of bytes; never built whole. `csv` is the
    table numbered `table` (1-based, in document order, as `tables` numbers them); `url` is
    the result's path, which each table's CSV link extends; each figure's link is presigned
    for `link_seconds`."""
    if fmt == "csv" and table is None:
        raise BadRequest("format=csv needs the table's number: ?format=csv&table=1.")
    if fmt == "figures":  # the manifest beside the result: the result itself is not read
        _checked(job, fmt, retention_days)
        return figures_of(storage, job, retention_days, link_seconds)
    summary, lines = _opened(storage, job, fmt, retention_days)
    if added.stored_beside(job, "tables") and fmt in ("markdown", "chunks", "tables", "csv"):
        lines = _with_tables(storage, job, lines, retention_days)
    if fmt == "json":
        return _document(job, summary, lines)
    if fmt == "text":
        return (json.loads(line)["text"].encode("utf-8", "surrogatepass") + b"\f" for line in lines)
    if fmt == "markdown":
        return _markdown(summary, lines)
    if fmt == "blocks":
        return (_json_line({"page": p["page"], "blocks": p["blocks"]}) for p in _pages(lines))
    if fmt == "chunks":
        budget = (job.options or {}).get("chunk_chars") or chunking.DEFAULT_CHARS
        return (_json_line(found) for found in chunking.chunks(_pages(lines), budget))
    if fmt == "tables":
        return (_json_line(found) for found in tables_of(_pages(lines), url))
    if fmt == "csv":
        return _csv(_pages(lines), job, table)
    if _has_extras(summary):  # pages: their lines without the blocks and tables
        return (_json_line(_without_blocks(p)) for p in _pages(lines))
    return (line + b"\n" for line in lines)


def _beside(storage: Storage, job: Job, output: str, retention_days: int) -> Iterator[dict]:
    """The lines of an output kept beside the result object (keys.extras_key), a page each;
    opened now, so one that is gone is a 410 here, not a cut body later."""
    key = keys.extras_key(result_key(job), output)
    try:
        lines = stream_lines(storage, key)
        first = next(lines, None)
    except ObjectMissing:
        raise result_expired(job, retention_days) from None
    return itertools.chain([] if first is None else [json.loads(first)], _pages(lines))


def _with_tables(
    storage: Storage, job: Job, lines: Iterator[bytes], retention_days: int
) -> Iterator[bytes]:
    """The page lines with the tables added after the run, page by page (both in page order)."""
    tables = _beside(storage, job, "tables", retention_days)
    held = next(tables, None)
    for line in lines:
        page = json.loads(line)
        while held is not None and held["page"] < page["page"]:
            held = next(tables, None)
        if held is not None and held["page"] == page["page"]:
            page["tables"] = held["tables"]
        yield _json_line(page)[:-1]


def figures_of(
    storage: Storage, job: Job, retention_days: int, link_seconds: int
) -> Iterator[bytes]:
    """Every figure of the document in order, numbered from 1, each with a presigned GET link
    to its PNG valid `link_seconds` (presigning is local: no request per figure)."""
    pages = _beside(storage, job, "figures", retention_days)
    return _figure_lines(storage, job, pages, link_seconds)


def _figure_lines(storage: Storage, job: Job, pages: Iterator[dict], link_seconds: int):
    result = result_key(job)
    expires = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=link_seconds)
    expires_at = expires.strftime("%Y-%m-%dT%H:%M:%SZ")
    number = 0
    for page in pages:
        for figure in page["figures"]:
            number += 1
            key = keys.figure_key(result, figure["file"])
            link = storage.presign_get(key, expires=link_seconds)
            yield _json_line(
                {
                    "figure": number,
                    "page": page["page"],
                    "bbox": figure["bbox"],
                    "width": figure["width"],
                    "height": figure["height"],
                    "bytes": figure["bytes"],
                    "url": link,
                    "expires_at": expires_at,
                }
            )


def _has_extras(summary: dict) -> bool:
    return bool(set(summary.get("outputs", ())) & set(PAGE_EXTRAS))


def tables_of(pages: Iterable[dict], url: str) -> Iterator[dict]:
    """Every table of the document in order, numbered from 1, each with its CSV's link (the
    result's path `url` with the query that asks for it)."""
    number = 0
    for page in pages:
        for found in page.get("tables") or []:
            number += 1
            yield {
                "table": number,
                "page": page["page"],
                **found,
                "csv": f"{url}?format=csv&table={number}",
            }


def _csv(pages: Iterator[dict], job: Job, number: int) -> Iterator[bytes]:
    for found in tables_of(pages, ""):
        if found["table"] == number:
            return iter([tables_csv(found)])
    raise NotFound(f"Job {job.id} has no table {number}; ?format=tables lists its tables.")


def tables_csv(found: dict) -> bytes:
    """One table as CSV (RFC 4180, CRLF line ends): a row per row, a spanned position empty."""
    out = io.StringIO()
    writer = csv.writer(out)
    for row in found["rows"]:
        writer.writerow([cell["text"] for cell in row])
    return out.getvalue().encode("utf-8")


def _pages(lines: Iterator[bytes]) -> Iterator[dict]:
    return (json.loads(line) for line in lines)


def _without_blocks(page: dict) -> dict:
    for name in PAGE_EXTRAS:
        page.pop(name, None)
    return page


def _document(job: Job, summary: dict, lines: Iterator[bytes]) -> Iterator[bytes]:
    """`?format=json`: the summary and warnings, then the page lines copied one at a time
    into the "pages" array."""
    with_blocks = _has_extras(summary)
    head = {"job_id": job.id, **summary, "warnings": job.warnings, "pages": []}
    yield json.dumps(head, ensure_ascii=False)[:-2].encode("utf-8")  # up to "pages": [
    first = True
    for line in lines:
        item = _json_line(_without_blocks(json.loads(line)))[:-1] if with_blocks else line
        yield item if first else b"," + item
        first = False
    yield b"]}"


def _markdown(summary: dict, lines: Iterator[bytes]) -> Iterator[bytes]:
    """The document as Markdown (core/jobs/structure.py's `markdown`, byte for byte), a page
    at a time: pieces joined by a newline, the newlines at the very end cut to one."""

    def pieces() -> Iterator[str]:
        yield from structure.markdown_head(summary.get("outline") or [])
        for page in _pages(lines):
            yield from structure.markdown_page(page)

    held = ""  # newlines at the end of what came so far, held back until more text comes
    for number, piece in enumerate(pieces()):
        text = piece if number == 0 else "\n" + piece
        stripped = text.rstrip("\n")
        if stripped:
            yield (held + stripped).encode("utf-8")
            held = text[len(stripped) :]
        else:
            held += text
    yield b"\n"


def stored_key(
    storage: Storage, job: Job, fmt: str, retention_days: int, url: str = ""
) -> tuple[str, int]:
    """(key, size) of the job's result as a file in format `fmt`, for a presigned download
    link: written beside the result object the first time it is asked for (`url` as for
    chunks)."""
    require_succeeded(job)
    key = result_key(job)
    if key is None:
        raise result_expired(job, retention_days)
    name, media_type = FORMATS[fmt]
    target = keys.result_file_key(key, name)
    try:
        return target, storage.head(target)["ContentLength"]
    except ObjectMissing:
        pass
    with tempfile.TemporaryFile() as spooled:
        for chunk in chunks(storage, job, fmt, retention_days, url=url):
            spooled.write(chunk)
        size = spooled.tell()
        spooled.seek(0)
        storage.upload_file(target, spooled, media_type, {})
    return target, size


def document(storage: Storage, job: Job, retention_days: int) -> dict:
    """The result as `?format=json` shows it, as one dict (the CLI's `result --json`)."""
    return json.loads(b"".join(chunks(storage, job, "json", retention_days)))
