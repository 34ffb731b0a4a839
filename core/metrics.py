"""Job metrics kept in the shared state store and written out in Prometheus' text format.

Counting happens in Redis (or the embedded store), never in process memory, so every gunicorn
worker answers /metrics with the same numbers and workers on other machines add to them.
Each figure is a fixed key: one per histogram bucket, one per error code, so nothing grows
without bound. A histogram bucket key counts only the observations that fall in it; the
cumulative `le` series are summed when the page is written.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.errors import ExtractionError, NotAPdf, PdfqError, TooLarge, Unavailable
from core.keys import metric_key

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


@dataclass(frozen=True)
class Histogram:
    name: str
    help: str
    buckets: tuple[float, ...]
    # The sum is kept as a whole number (state counters are integers): value * scale.
    scale: int = 1

    def bucket_key(self, bound: float | None) -> str:
        return metric_key(self.name, "le", "+Inf" if bound is None else _number(bound))

    @property
    def sum_key(self) -> str:
        return metric_key(self.name, "sum")

    def keys(self) -> list[str]:
        return [self.bucket_key(b) for b in (*self.buckets, None)] + [self.sum_key]


EXTRACTION_SECONDS = Histogram(
    "pdfq_extraction_seconds",
    "Seconds pdfminer.six spent extracting each succeeded document.",
    (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300),
    scale=1000,
)
DOCUMENT_PAGES = Histogram(
    "pdfq_document_pages",
    "Pages in each succeeded document.",
    (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000),
)
HISTOGRAMS = (EXTRACTION_SECONDS, DOCUMENT_PAGES)
RETRIES_KEY = metric_key("task_retries")
# Jobs that ended succeeded or failed, ever: the operations view's jobs-a-minute come from it.
FINISHED_KEY = metric_key("jobs_finished")
OTHER_CODE = "other"


def failure_codes() -> list[str]:
    """Every code a job can fail with: the classes that end jobs, and their subclasses."""
    codes, todo = set(), [ExtractionError, Unavailable, NotAPdf, TooLarge]
    while todo:
        cls = todo.pop()
        if cls.code != PdfqError.code:
            codes.add(cls.code)
        todo.extend(cls.__subclasses__())
    return [*sorted(codes), OTHER_CODE]


def _failure_key(code: str) -> str:
    return metric_key("job_failures", code)


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


# --- recording (called by the process that sees the event) ---


def observed(histogram: Histogram, value: float) -> dict[str, int]:
    """The counter changes that observe `value` in `histogram`."""
    bound = next((b for b in histogram.buckets if value <= b), None)
    return {histogram.bucket_key(bound): 1, histogram.sum_key: round(value * histogram.scale)}


def transition_counts(previous: str, job) -> dict[str, int]:
    """The counter changes a job's move makes: its pages and time when it succeeds, its code
    on failure (applied by the caller with the job's other counters, in one round trip)."""
    status = str(job.status)
    changes: dict[str, int] = {}
    if status == str(previous):
        return changes
    if status in ("succeeded", "failed"):
        changes[FINISHED_KEY] = 1
    if status == "succeeded":
        seconds = ((job.result or {}).get("seconds") or {}).get("extract")
        if seconds is not None:
            changes.update(observed(EXTRACTION_SECONDS, float(seconds)))
        if job.pages_total is not None:
            changes.update(observed(DOCUMENT_PAGES, job.pages_total))
    elif status == "failed":
        code = (job.error or {}).get("code", OTHER_CODE)
        changes[_failure_key(code if code in failure_codes() else OTHER_CODE)] = 1
    return changes


def record_retry(state) -> None:
    state.incr(RETRIES_KEY, 1)


# --- the exposition page ---


def render(state, *, pending: int, scheduled: int, jobs: dict[str, int]) -> str:
    """The Prometheus text page for the queue sizes, jobs by status and the counted events."""
    codes = failure_codes()
    keys = [RETRIES_KEY, *(_failure_key(c) for c in codes)]
    for histogram in HISTOGRAMS:
        keys += histogram.keys()
    values = {k: int(v or 0) for k, v in state.get_many(keys).items()}

    out: list[str] = []
    _family(out, "pdfq_queue_pending", "gauge", "Tasks waiting in the queue.", [("", pending)])
    _family(
        out,
        "pdfq_queue_scheduled",
        "gauge",
        "Tasks waiting for a later time (retries with backoff, delayed jobs).",
        [("", scheduled)],
    )
    _family(
        out,
        "pdfq_jobs_in_flight",
        "gauge",
        "Jobs a worker is processing right now.",
        [("", jobs.get("processing", 0))],
    )
    _family(
        out,
        "pdfq_jobs",
        "gauge",
        "Jobs by status.",
        [(f'{{status="{status}"}}', count) for status, count in jobs.items()],
    )
    for histogram in HISTOGRAMS:
        _histogram(out, histogram, values)
    _family(
        out,
        "pdfq_task_retries_total",
        "counter",
        "Task runs that failed transiently and were scheduled to run again.",
        [("", values[RETRIES_KEY])],
    )
    _family(
        out,
        "pdfq_job_failures_total",
        "counter",
        "Jobs that ended failed, by error code.",
        [(f'{{code="{c}"}}', values[_failure_key(c)]) for c in codes],
    )
    return "\n".join(out) + "\n"


def failures_by_code(state) -> dict[str, int]:
    """Jobs that ended failed, by error code, the codes seen only."""
    codes = failure_codes()
    values = state.get_many([_failure_key(c) for c in codes])
    return {c: int(values[_failure_key(c)]) for c in codes if int(values[_failure_key(c)] or 0)}


def finished(state) -> int:
    """Jobs that ended succeeded or failed, ever (a counter)."""
    return int(state.get(FINISHED_KEY) or 0)


def _family(out: list[str], name: str, kind: str, help_text: str, samples):
    out += [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]
    out += [f"{name}{labels} {_number(value)}" for labels, value in samples]


def _histogram(out: list[str], histogram: Histogram, values: dict[str, int]):
    name = histogram.name
    out += [f"# HELP {name} {histogram.help}", f"# TYPE {name} histogram"]
    cumulative = 0
    for bound in (*histogram.buckets, None):
        cumulative += values[histogram.bucket_key(bound)]
        le = "+Inf" if bound is None else _number(bound)
        out.append(f'{name}_bucket{{le="{le}"}} {cumulative}')
    out.append(f"{name}_sum {_number(values[histogram.sum_key] / histogram.scale)}")
    out.append(f"{name}_count {cumulative}")
