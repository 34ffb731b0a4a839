"""Outputs made apart from a job's text and stored beside its result object: a job's figures,
after its run's text (`at_run`), and the outputs asked for once it finished (`run`, the
`add_outputs` task: core/jobs/added.py). Both make them in a sandbox child from the PDF alone
(engines/extras.py), never extracting the text again, and never rewrite the result object.

A job whose `outputs` do not name figures pays nothing here: `at_run` returns before any
request. Storing costs one PUT per figure (UPLOADS at a time) and one for each output's
JSON lines.
"""

from __future__ import annotations

import json
import logging
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from consumer import sandbox, scratch, slots
from core import keys
from core.errors import Conflict, NotFound, PdfqError
from core.jobs import added, options, pdfcheck, results
from core.jobs.model import Job, JobStatus
from core.services import Services
from engines.base import PageSelection

log = logging.getLogger("pdfq.consumer")
UPLOADS = 4  # figures stored at once: independent requests go out together
FIGURES_FAILED = "figures_failed"  # the job's figures could not be made; its text is whole


def page_numbers(stored_options: dict | None, page_count: int) -> list[int]:
    """The numbers of the `page_count` pages a job's run extracted (its `pages` and
    `max_pages` options applied as the engines apply them)."""
    selection = PageSelection.of(stored_options, None)
    numbers: list[int] = []
    number = 1
    while len(numbers) < page_count:
        wanted = selection.wants(number, len(numbers))
        if wanted is None:
            break
        if wanted:
            numbers.append(number)
        number += 1
    return numbers


def make(
    services: Services, job: Job, path: Path, result: str, outputs: list[str], pages: int, tick
) -> list[str]:
    """Make `outputs` of the job's `pages` pages from the PDF at `path` and store them
    beside the result object `result`; the warnings (figures_capped, tables_failed...)."""
    settings = services.settings
    with scratch.job_folder("extras-") as folder:
        with slots.held(settings.extract_slots, tick):
            summary = sandbox.extras(
                path,
                Path(folder),
                numbers=page_numbers(job.options, pages),
                outputs=outputs,
                timeout=settings.extract_timeout,
                open_seconds=settings.extract_open_seconds,
                page_seconds=settings.extract_page_seconds,
                memory_mb=settings.extract_memory_mb,
                password=options.password(job.options, settings),
                on_tick=tick,
                ocr_memory_mb=settings.ocr_memory_mb,
                recycle=sandbox.Recycle(
                    settings.sandbox_max_requests,
                    settings.sandbox_max_rss_mb,
                    slots.size(settings.extract_slots),
                ),
            )
        _store(services, result, Path(folder), outputs)
    return summary["warnings"]


def _store(services: Services, result: str, folder: Path, outputs: list[str]):
    """The made outputs' JSON lines, and each figure's PNG before the lines that name it."""
    storage = services.storage
    if "figures" in outputs:
        names = [
            figure["file"]
            for line in (folder / "figures.jsonl").read_text("utf-8").splitlines()
            for figure in json.loads(line)["figures"]
        ]

        def put(name: str):
            with open(folder / name, "rb") as body:
                storage.upload_file(keys.figure_key(result, name), body, "image/png", {})

        with ThreadPoolExecutor(UPLOADS) as pool:
            list(pool.map(put, names))
    for output in outputs:
        with open(folder / f"{output}.jsonl", "rb") as body:
            storage.upload_file(keys.extras_key(result, output), body, results.MEDIA_TYPE, {})


def at_run(services: Services, job: Job, path: Path, summary: dict, tick):
    """A run's figures, when its job asks for them, stored beside its result `summary["key"]`.
    Figures are an extra: when they cannot be made (time, memory) the job keeps its text
    without them, with the warning figures_failed, and may ask for them again later."""
    if not options.wants(job.options, "figures"):
        return
    try:
        found = make(services, job, path, summary["key"], ["figures"], summary["page_count"], tick)
        if "figures" not in summary["outputs"]:  # reused from a job whose figures failed
            summary["outputs"] = [*summary["outputs"], "figures"]
    except PdfqError as error:
        if error.retryable:
            raise
        log.warning("job %s: no figures: %s (%s)", job.id, error.code, error.message)
        summary["outputs"] = [name for name in summary["outputs"] if name != "figures"]
        found = [FIGURES_FAILED]
    known = summary["warnings"]
    summary["warnings"] = [*known, *(warning for warning in found if warning not in known)]


def run(services: Services, tenant: str, job_id: str, outputs: list[str], *, final_attempt: bool):
    """The add_outputs task: make the `outputs` a succeeded job does not have yet, from its
    stored PDF, and record them on the job (or why they could not be made)."""
    try:
        job = services.records.get(job_id, tenant)
    except NotFound:
        return  # erased: nothing to add to
    if job.status is not JobStatus.SUCCEEDED:
        return  # re-run meanwhile: the run makes what its options ask for
    result = results.result_key(job)
    wanted = [name for name in outputs if name not in added.computed(job)]
    made, failed, warnings = [], {}, []
    if wanted:
        try:
            warnings = _made(services, job, result, wanted)
            made = wanted
        except PdfqError as error:
            if error.retryable and not final_attempt:
                raise
            log.warning("job %s: %s not added: %s", job.id, ", ".join(wanted), error.code)
            failed = {name: error.to_dict() for name in wanted}
    try:
        services.lifecycle.outputs_made(job, result, made, failed, warnings)
    except Conflict as exc:  # re-run or erased meanwhile: what was made expires with its result
        log.warning("job %s: added outputs not kept: %s", job.id, exc.message)
    else:
        log.info("job %s: added %s", job.id, ", ".join(made) or "nothing")


def _made(services: Services, job: Job, result: str, wanted: list[str]) -> list[str]:
    settings = services.settings
    with scratch.job_folder("added-") as folder:
        path = Path(folder) / "source.pdf"
        limit = settings.max_upload_bytes
        pdfcheck.download_checked(services.storage, job.source_key, path, limit, job.source_etag)
        pages = job.result["page_count"]
        return make(services, job, path, result, wanted, pages, None)
