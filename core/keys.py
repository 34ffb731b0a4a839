"""Every key pdfq writes, in object storage and in the state store, and how long each lives.

Object keys group by kind first (sources/, jobs/, results/, ...) so lifecycle rules can expire
each kind alone, then by tenant so every tenant's objects sit under their own prefix.
inbox/<tenant>/ is where any tool may drop PDFs; pdfq moves each one to sources/ as a new job.

Job ids count time down: their first 11 hex digits are a ceiling minus the milliseconds since
1970 when the job was made, so S3, which lists keys in ascending order, lists each tenant's
records (jobs/<tenant>/<id>.json) newest first, and a page of that list is the job list.

State-store keys (Redis, under the prefix `pdfq:<queue name>:`, or the embedded SQLite store)
hold what may be lost. Each has a TTL, named beside it, except the counters (`count:...`,
`metrics:...`: fixed sets of keys bounded by the status vocabulary, the error codes and the
histogram buckets) and the sets of open jobs (`open:...`), which recovery prunes every pass.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
import uuid

DEFAULT_TENANT = "public"
# What a result object can be turned into for a download link (core/jobs/results.py).
RESULT_FILES = (
    "text.txt",
    "pages.jsonl",
    "result.json",
    "blocks.jsonl",
    "document.md",
    "tables.jsonl",
    "chunks.jsonl",
)

# Whole-string patterns, always applied with fullmatch (`$` would match before a "\n").
_JOB_ID = re.compile(r"[0-9a-f]{32}")
_ID_TIME_DIGITS = 11  # hex digits: 16**11 ms is over 500 years
_ID_CEILING = 16**_ID_TIME_DIGITS - 1
_TENANT = r"(?P<tenant>[a-z0-9_-]{1,64})"
_SOURCE_KEY = re.compile(rf"sources/{_TENANT}/(?P<job_id>[0-9a-f]{{32}})\.pdf")
_RECORD_KEY = re.compile(rf"jobs/{_TENANT}/(?P<job_id>[0-9a-f]{{32}})\.json")
_INBOX_KEY = re.compile(rf"inbox/{_TENANT}/(?P<path>[^\x00-\x1f]*[^/\x00-\x1f])")
# Fixed, so that one version of one object always derives the same job id, in every process.
_OBJECT_JOBS = uuid.UUID("6f1c4c55-0b5e-4a8e-9a43-2f5d1c9e7b10")


# --- job ids ---


def _id_time(at_ms: int) -> str:
    return f"{_ID_CEILING - at_ms:0{_ID_TIME_DIGITS}x}"


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def new_job_id(at_ms: int | None = None) -> str:
    """A new job's id: its time, counted down (newest first in a listing), then 84 random bits."""
    return _id_time(now_ms() if at_ms is None else at_ms) + secrets.token_hex(11)[:21]


def object_job_id(bucket: str, key: str, etag: str, at_ms: int) -> str:
    """The job id for one version of a stored object, made at `at_ms` (the object's own
    time, which every delivery of its event carries): a repeated event names the same job."""
    version = etag.strip('"')  # S3 quotes ETags in headers but not in event records
    digest = uuid.uuid5(_OBJECT_JOBS, f"{bucket}\n{key}\n{version}").hex
    return _id_time(at_ms) + digest[: 32 - _ID_TIME_DIGITS]


def batch_job_id(batch_id: str, index: int) -> str:
    """The id of the job a batch makes of its source number `index`: the batch's own time
    (its jobs list together, newest batch first) and a digest, so that making the batch's
    jobs again (a retried task) finds the ones made already."""
    digest = uuid.uuid5(_OBJECT_JOBS, f"batch\n{batch_id}\n{index}").hex
    return batch_id[:_ID_TIME_DIGITS] + digest[: 32 - _ID_TIME_DIGITS]


def job_id_ms(job_id: str) -> int:
    """When the job with this id was made, in milliseconds since 1970."""
    return _ID_CEILING - int(job_id[:_ID_TIME_DIGITS], 16)


def is_job_id(value: str) -> bool:
    return isinstance(value, str) and bool(_JOB_ID.fullmatch(value))


# --- object storage: one prefix per kind ---

SOURCES_PREFIX = "sources/"  # the PDF of each job; expired by SOURCE_RETENTION_DAYS
RECORDS_PREFIX = "jobs/"  # the durable job records, newest first; never expired
RESULTS_PREFIX = "results/"  # one object per run; expired by RESULT_RETENTION_DAYS
REOPENED_PREFIX = "active/"  # a marker per re-run job until it ends (jobs/reopened.py)
PARTS_PREFIX = "parts/"  # page ranges of a page-parallel job, deleted once merged
INBOX_PREFIX = "inbox/"  # files dropped by other tools, until pdfq takes them
INDEX_PREFIX = "index/"  # failed, canceled and erased jobs by when (core/jobs/index.py)
STORE_PREFIX = "store/"  # what the store honours (core/adapters/capabilities.py), and probes
CAPABILITIES_KEY = f"{STORE_PREFIX}capabilities.json"
# The oldest job recovery must look at after the state store lost its data (consumer/recovery).
OPEN_SINCE_KEY = f"{STORE_PREFIX}open-since.json"
COUNTS_KEY = f"{STORE_PREFIX}counts.json"  # the job counters, copied here every hour


def source_key(tenant: str, job_id: str) -> str:
    return f"{SOURCES_PREFIX}{tenant}/{job_id}.pdf"


def batch_key(tenant: str, batch_id: str) -> str:
    """A batch's record: its options, its sources' count, its status and end."""
    return f"batches/{tenant}/{batch_id}.json"


def batch_sources_key(tenant: str, batch_id: str) -> str:
    """The sources a batch was sent, as JSON, read by the task that makes its jobs."""
    return f"batches/{tenant}/{batch_id}/sources.json"


def batch_manifest_key(tenant: str, batch_id: str) -> str:
    """A finished batch's manifest: one JSON line per job (source, status, error, result)."""
    return f"batches/{tenant}/{batch_id}/manifest.jsonl"


def record_key(tenant: str, job_id: str) -> str:
    return f"{RECORDS_PREFIX}{tenant}/{job_id}.json"


def records_prefix(tenant: str) -> str:
    """One tenant's records; listed in key order they are its jobs newest first."""
    return f"{RECORDS_PREFIX}{tenant}/"


def result_key(tenant: str, job_id: str, run: str) -> str:
    """One run's result: a JSON-lines object, the summary then one line a page."""
    return f"{RESULTS_PREFIX}{tenant}/{job_id}/{run}.jsonl"


def result_file_key(result: str, name: str) -> str:
    """A format of the result object `result`, written beside it when a download link asks."""
    if name not in RESULT_FILES:
        raise ValueError(f"unknown result file {name!r}")
    return f"{result.removesuffix('.jsonl')}/{name}"


def page_image_key(result: str, page: int, width: int) -> str:
    """Page `page` of the result object `result` drawn `width` pixels wide, kept beside it
    (so it expires with the result and is erased with the job)."""
    return f"{result.removesuffix('.jsonl')}/pages/{page:06d}-w{width}.png"


def extras_key(result: str, output: str) -> str:
    """An output (tables, figures) of the result object `result` made apart from its text,
    kept beside it as JSON lines, a page a line (so it expires and is erased with it)."""
    if output not in ("tables", "figures"):
        raise ValueError(f"unknown output {output!r}")
    return f"{result.removesuffix('.jsonl')}/outputs/{output}.jsonl"


def figure_key(result: str, name: str) -> str:
    """One figure of the result object `result`, a PNG named by its page and number
    (`000003-002.png`), kept beside it."""
    if not re.fullmatch(r"\d{6}-\d{3}\.png", name):
        raise ValueError(f"not a figure's name: {name!r}")
    return f"{result.removesuffix('.jsonl')}/figures/{name}"


def results_prefix(tenant: str, job_id: str) -> str:
    """Every result object of one job, of every run."""
    return f"{RESULTS_PREFIX}{tenant}/{job_id}/"


def parts_prefix(tenant: str, job_id: str) -> str:
    """Every page range of one job, of every run."""
    return f"{PARTS_PREFIX}{tenant}/{job_id}/"


def reopened_key(tenant: str, job_id: str) -> str:
    """A marker that exists while a re-run job is open (its id's time is old, so recovery
    after a loss of the state store finds it by this marker, not by its id)."""
    return f"{REOPENED_PREFIX}{tenant}/{job_id}"


def parse_reopened_key(key: str) -> tuple[str, str]:
    _, tenant, job_id = key.split("/", 2)
    return tenant, job_id


def part_key(tenant: str, job_id: str, run: str, first: int, last: int) -> str:
    """Pages first..last of a page-parallel job, as one part extracted them."""
    return f"{PARTS_PREFIX}{tenant}/{job_id}/{run}/{first:06d}-{last:06d}.json"


# Index entries sort newest first: S3 lists keys in ascending order, so the time in a key is
# counted down from a ceiling (milliseconds since 1970; 13 digits last until the year 2286).
_INDEX_CEILING = 10**13
_INDEX_KEY = re.compile(
    rf"index/{_TENANT}/status/(?P<status>[a-z_]+)/(?P<rev>\d{{13}})-(?P<job_id>[0-9a-f]{{32}})"
)


def index_prefix(tenant: str, status: str) -> str:
    """Where one tenant's jobs in `status` (failed, canceled, deleted) are listed, by when
    they entered it."""
    return f"{INDEX_PREFIX}{tenant}/status/{status}/"


def index_key(tenant: str, status: str, at_ms: int, job_id: str) -> str:
    """An empty object that lists a job at time `at_ms` (newer times sort first)."""
    return f"{index_prefix(tenant, status)}{_INDEX_CEILING - at_ms:013d}-{job_id}"


def parse_index_key(key: str) -> tuple[str, str, int, str]:
    """(tenant, status, at_ms, job_id); ValueError for any other key."""
    match = _INDEX_KEY.fullmatch(key)
    if not match:
        raise ValueError(f"not a pdfq index key: {key!r}")
    return match["tenant"], match["status"], _INDEX_CEILING - int(match["rev"]), match["job_id"]


def store_probe_key(name: str) -> str:
    """A throw-away object the capability probe writes and deletes."""
    return f"{STORE_PREFIX}probe-{name}"


def parse_source_key(key: str) -> tuple[str, str]:
    """(tenant, job_id) of a source key; ValueError for any other key."""
    match = _SOURCE_KEY.fullmatch(key)
    if not match:
        raise ValueError(f"not a pdfq source key: {key!r}")
    return match["tenant"], match["job_id"]


def parse_record_key(key: str) -> tuple[str, str]:
    """(tenant, job_id) of a job record key; ValueError for any other key."""
    match = _RECORD_KEY.fullmatch(key)
    if not match:
        raise ValueError(f"not a pdfq job record key: {key!r}")
    return match["tenant"], match["job_id"]


def parse_inbox_key(key: str) -> tuple[str, str]:
    """(tenant, file name) of an object dropped in the inbox; ValueError for any other key."""
    match = _INBOX_KEY.fullmatch(key)
    if not match:
        raise ValueError(f"not an inbox key (inbox/<tenant>/<name>): {key!r}")
    return match["tenant"], match["path"].rsplit("/", 1)[-1]


# --- the state store: what may be lost, each key with its TTL ---

ENQUEUED_TTL = 14 * 24 * 3600  # far longer than any job waits in the queue
# A Huey retry's marker lives until the retry is due plus this: if the retry never comes
# (its task was dropped), recovery finds the job unmarked soon after.
RETRY_MARKER_GRACE = 300
CANCEL_TTL = 24 * 3600  # a running job stops within seconds of the request
IDEMPOTENCY_TTL = 24 * 3600  # how long a client may replay a request
RECOVERY_LOCK_TTL = 50  # under the minute between two recovery passes
RECOVERY_LOCK = "recovery-lock"
# Set while a recovery pass is scheduled to come soon (after a consumer starts; to look again
# at jobs whose lease went missing), for a second under its delay: no second one is scheduled.
RECOVERY_SOON = "recovery-soon"
REINDEX_LOCK_TTL = 3600  # a rebuild of the job index from every record; released when done
REINDEX_LOCK = "reindex-lock"
# A store without conditional writes: a job record's read-check-write runs under this lock,
# held for one write (milliseconds); the TTL frees the lock of a writer that died holding it.
RECORD_LOCK_TTL = 30
MISSING_LEASE_TTL = 180  # at least three lease periods: inflight.py stretches it to that
# Parts live PROGRESS_TTL (a setting); leases LEASE_SECONDS, renewed while held.
# A job's live copy (the record with its transient state): an open job's is renewed while it
# runs and read back from storage once gone; a finished job's serves the polls that follow.
LIVE_OPEN_TTL = 24 * 3600
LIVE_DONE_TTL = 600
# Recovery writes it every pass; a state store without it has lost its data (flushed,
# restarted empty, failed over), and recovery looks for open jobs in storage.
EPOCH = "epoch"
EPOCH_TTL = 7 * 24 * 3600
OPEN_TENANTS = "open-tenants"  # tenants with open jobs; pruned by recovery
OWED_WEBHOOKS = "owed-webhooks"  # "<tenant>/<job>" of finished jobs whose webhook is owed


def lease_key(holder: str) -> str:
    """Who runs a job (or a part of one) right now; TTL LEASE_SECONDS, renewed while it works."""
    return f"lease:{holder}"


def record_lock_key(record: str) -> str:
    """Held around one write of a job record on a store without conditional writes;
    RECORD_LOCK_TTL."""
    return f"record-lock:{record}"


def missing_lease_key(job_id: str) -> str:
    """When recovery first found a processing job without a lease; MISSING_LEASE_TTL. Cleared
    when the lease is back (a live worker renews it after a state-store outage)."""
    return f"missing-lease:{job_id}"


def enqueued_key(job_id: str) -> str:
    """The task that is queued for a job; ENQUEUED_TTL."""
    return f"enqueued:{job_id}"


def outage_key(job_id: str) -> str:
    """The error code of an outage that ended a job's run before its retry could be recorded
    on the job (recovery reads it); ENQUEUED_TTL, removed when the job ends."""
    return f"outage:{job_id}"


def cancel_key(job_id: str) -> str:
    """A cancel request for a running job, read by its worker; CANCEL_TTL."""
    return f"cancel:{job_id}"


def progress_key(job_id: str) -> str:
    """[pages done, pages total] of a running job; PROGRESS_TTL."""
    return f"progress:{job_id}"


def live_key(job_id: str) -> str:
    """The job as it is now: its record and transient state (processing, progress, a retry
    pending), versioned so that an older copy never replaces a newer one; LIVE_OPEN_TTL or
    LIVE_DONE_TTL."""
    return f"live:{job_id}"


def open_key(tenant: str) -> str:
    """The tenant's open jobs, by id (so newest first); no TTL, pruned by recovery."""
    return f"open:{tenant}"


def dedup_key(tenant: str, sha256: str, options_digest: str) -> str:
    """Which job's result holds these bytes extracted with these options, per tenant; as long
    as results are kept (RESULT_RETENTION_DAYS)."""
    return f"dedup:{tenant}:{sha256}:{options_digest}"


def webhook_queued_key(job_id: str) -> str:
    """The record revision whose webhook delivery is on the queue; ENQUEUED_TTL. One delivery
    task per owed event, whoever notices it is owed."""
    return f"webhook-queued:{job_id}"


def part_keys(name: str) -> dict[str, str]:
    """A part's progress (pages done), done flag and failure (its error); PROGRESS_TTL each."""
    return {what: f"part-{what}:{name}" for what in ("progress", "done", "failed")}


def idempotency_key(tenant: str, key: str) -> str:
    """A client's Idempotency-Key (hashed: it may hold anything) and its job; IDEMPOTENCY_TTL."""
    return f"idem:{tenant}:{hashlib.sha256(key.encode()).hexdigest()}"


def webhook_slot_key(number: int) -> str:
    """One of WEBHOOK_MAX_CONCURRENT delivery slots, held while a delivery runs; TTL a little
    over WEBHOOK_TIMEOUT, so a worker that dies mid-delivery frees it anyway."""
    return f"webhook-slot:{number}"


OPS_SAMPLE_TTL = 2 * 3600  # the operations view's history covers the last hour


def ops_sample_key(minute: int) -> str:
    """The operations view's sample of one minute (minutes since the epoch): jobs finished so
    far and the queue's depth, written once by the first process to sample that minute."""
    return f"ops-sample:{minute}"


def listener_slot_key(tenant: str, number: int) -> str:
    """One of a tenant's event-stream slots (functions/live_events.py), held while a stream is
    open; TTL a little over the stream's window, so a web worker that died frees it anyway."""
    return f"listener-slot:{tenant}:{number}"


def count_key(status: str, tenant: str | None = None) -> str:
    """Jobs in `status`, of every tenant or of one. No TTL: bounded by the vocabulary."""
    return f"count:{tenant}:{status}" if tenant else f"count:{status}"


def metric_key(*parts: str) -> str:
    """A metrics counter (a histogram bucket or sum, failures of a code, retries). No TTL."""
    return ":".join(("metrics", *parts))


# --- the queue's fair share (core/adapters/fairqueue.py): queue content, so no TTL ---


def fair_tenants_key(queue: str) -> str:
    """The tenants with jobs waiting for a turn, in turn order, each once."""
    return f"fair:{queue}:tenants"


def fair_jobs_prefix(queue: str) -> str:
    """Before a tenant's name: the list of its jobs' tasks waiting for a turn, oldest first."""
    return f"fair:{queue}:jobs:"


# --- batches (core/jobs/batches.py): counted while they run, kept BATCH_DONE_TTL after ---

BATCH_DONE_TTL = 7 * 24 * 3600


def batch_count_key(batch_id: str, status: str) -> str:
    """A batch's jobs in `status`; no TTL while the batch runs, BATCH_DONE_TTL once ended."""
    return f"batch-count:{batch_id}:{status}"


def batch_pages_key(batch_id: str) -> str:
    """Pages extracted by a batch's jobs that succeeded; as batch_count_key."""
    return f"batch-pages:{batch_id}"


def batch_ending_key(batch_id: str) -> str:
    """Set once the task that ends a batch is queued, so it is queued once; BATCH_DONE_TTL."""
    return f"batch-ending:{batch_id}"


BATCHES_MAKING = "batches-making"  # set of "<tenant>/<batch id>" whose jobs are being made


def batch_cursor_key(batch_id: str) -> str:
    """How many of a batch's sources have their job made, while its jobs are being made, so
    a resumed making task starts there; BATCH_DONE_TTL."""
    return f"batch-cursor:{batch_id}"
