"""Outputs a finished job did not compute, made later from its stored PDF without its text.

`POST /jobs/<id>/outputs` asks for them; a worker's `add_outputs` task makes them
(consumer/added_outputs.py) and stores them beside the run's result object (keys.extras_key,
keys.figure_key), which is never rewritten. The record keeps what was added under `added`:

    {"result": <the result key they belong to>, "outputs": [made], "pending": [asked, not
     made yet], "failed": {output: {"code", "message"}}}

Bound to one result: a re-run makes a new result, and what was added to the old one no
longer counts (it expires with it). Only outputs made from the PDF alone can be added: tables
and figures. Blocks, Markdown and chunks need the text's layout, and languages the text: those
take a re-run of the job with them (`reprocess`).
"""

from __future__ import annotations

from core.errors import BadRequest, Conflict
from core.jobs import options
from core.jobs.model import Job, JobStatus

ADDABLE = ("tables", "figures")


def of(job: Job) -> dict:
    """The job's added outputs for its current result (empty lists when none)."""
    added = job.added or {}
    key = (job.result or {}).get("key")
    if not key or added.get("result") != key:
        return {"result": key, "outputs": [], "pending": [], "failed": {}}
    return {
        "result": key,
        "outputs": list(added.get("outputs") or []),
        "pending": list(added.get("pending") or []),
        "failed": dict(added.get("failed") or {}),
    }


def computed(job: Job) -> list[str]:
    """Every output the job has now: its run's, and those added since."""
    made = list((job.result or {}).get("outputs") or [])
    return made + [name for name in of(job)["outputs"] if name not in made]


def stored_beside(job: Job, output: str) -> bool:
    """Whether `output` is kept beside the result object (added later, or figures, which
    always are) rather than in its page lines."""
    return output == "figures" or output in of(job)["outputs"]


def asked(job: Job, body) -> list[str]:
    """The outputs a `POST /jobs/<id>/outputs` body asks for that the job does not have yet
    (400 for a body that names none, or names one that cannot be added; 409 for a job that
    has not succeeded)."""
    wanted = body.get("outputs") if isinstance(body, dict) else None
    if wanted in (None, "", []):
        raise BadRequest('Send the outputs to add: {"outputs": ["tables"]}.')
    names = options.parse({"outputs": wanted})["outputs"]
    if job.status is not JobStatus.SUCCEEDED:
        raise Conflict(
            f"Job {job.id} is {job.status.value}; outputs are added to a job that succeeded."
        )
    others = [name for name in names if name not in ADDABLE and name not in computed(job)]
    if others:
        raise Conflict(
            f"Job {job.id}: {', '.join(others)} cannot be added to a finished job (it needs "
            f'the text\'s layout): reprocess it with {{"outputs": "{",".join(names)}"}}.'
        )
    return [name for name in names if name not in computed(job)]


def pending(job: Job, outputs: list[str]) -> dict:
    """The record's `added` once `outputs` are asked for: pending, their failures forgotten."""
    now = of(job)
    now["pending"] = sorted(set(now["pending"]) | set(outputs))
    now["failed"] = {k: v for k, v in now["failed"].items() if k not in outputs}
    return now


def finished(job: Job, result: str, made: list[str], failed: dict) -> dict:
    """The record's `added` once a worker made `made` (and failed `failed`) for `result`."""
    if (job.result or {}).get("key") != result:
        raise Conflict(f"Job {job.id} was re-run meanwhile; the outputs made are not its own.")
    now = of(job)
    done = set(made) | set(failed) | set(computed(job))
    now["outputs"] = sorted(set(now["outputs"]) | set(made))
    now["pending"] = [name for name in now["pending"] if name not in done]
    now["failed"] = {**{k: v for k, v in now["failed"].items() if k not in made}, **failed}
    return now
