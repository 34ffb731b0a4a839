"""`flask pdf submit`: PDFs or folders of PDFs, checked like uploads, with progress bars."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import click
from flask.cli import with_appcontext

from core.errors import PdfqError
from core.exitcodes import FAILED, NOT_READY
from core.jobs import pdfcheck
from core.services import Services
from functions.cli.common import (
    error_text,
    json_option,
    line,
    reports_errors,
    tenant_option,
)
from functions.context import services
from functions.documents import clean_filename
from functions.documents import submit as submit_document

POLL_SECONDS = 0.5


def pdf_files(paths: tuple[Path, ...], recursive: bool) -> list[Path]:
    """Files named on the command line, and the *.pdf files in the folders named."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            pattern = "**/*" if recursive else "*"
            found += sorted(
                p for p in path.glob(pattern) if p.is_file() and p.suffix.lower() == ".pdf"
            )
        else:
            found.append(path)
    return found


@click.command()
@with_appcontext
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("-r", "--recursive", is_flag=True, help="Take PDFs in sub-folders too.")
@click.option("--wait", is_flag=True, help="Follow every job until it has finished.")
@click.option("--timeout", default=600.0, show_default=True, help="Seconds that --wait waits.")
@tenant_option
@json_option
@reports_errors
def submit(paths, recursive, wait, timeout, tenant, as_json):
    """Submit PDF files, or every *.pdf in a folder; print one line per file.

    Each file is checked as an upload is (empty, too large, not a PDF by its bytes) and
    refused with that code, or stored and queued. Lines: status, job id, file, detail.
    """
    files = pdf_files(paths, recursive)
    runtime = services()
    outcomes: list[dict] = []
    with click.progressbar(
        files, label="Submitting", file=sys.stderr, item_show_func=_name, show_pos=True
    ) as bar:
        for path in bar:
            outcomes.append(_submit_one(runtime, path, tenant))
    if wait:
        _follow(runtime, outcomes, tenant, timeout)

    for outcome in outcomes:
        click.echo(json.dumps(outcome) if as_json else _text(outcome))
    counts: dict[str, int] = {}
    for outcome in outcomes:
        counts[outcome["status"]] = counts.get(outcome["status"], 0) + 1
    summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
    click.echo(f"pdf: {len(outcomes)} files: {summary or 'no PDF found'}", err=True)
    if any(o["status"] in ("refused", "failed", "canceled") for o in outcomes):
        sys.exit(FAILED)
    if wait and any(o["status"] != "succeeded" for o in outcomes):
        click.echo(f"pdf: not every job finished within {timeout:g} s", err=True)
        sys.exit(NOT_READY)


def _name(path: Path | None) -> str | None:
    return path.name if path else None


def _submit_one(runtime: Services, path: Path, tenant: str) -> dict:
    outcome = {"file": str(path), "job_id": None, "status": "refused", "error": None}
    with open(path, "rb") as fp:
        try:
            size = pdfcheck.check_stream(fp, runtime.settings.max_upload_bytes)
        except PdfqError as refused:
            outcome["error"] = refused.to_dict()
            return outcome
        # Redis or storage down raises out of the whole run: the next file would fail too.
        name = clean_filename(path.name)
        job = submit_document(runtime, fp, filename=name, size=size, tenant=tenant)
    outcome.update(job_id=job.id, status=job.status.value, pages=None, warnings=[])
    return outcome


def _follow(runtime: Services, outcomes: list[dict], tenant: str, timeout: float):
    """Poll each job's record until it is terminal or `timeout` seconds have passed."""
    records = runtime.records
    waiting = {o["job_id"]: o for o in outcomes if o["job_id"]}
    deadline = time.monotonic() + timeout
    with click.progressbar(
        length=len(waiting), label="Extracting", file=sys.stderr, show_pos=True
    ) as bar:
        while waiting and time.monotonic() < deadline:
            for job_id, outcome in list(waiting.items()):
                job = records.get(job_id, tenant)
                outcome.update(
                    status=job.status.value,
                    error=job.error,
                    pages=job.pages_total,
                    warnings=job.warnings,
                )
                if job.status.terminal:
                    del waiting[job_id]
                    bar.update(1)
            if waiting:
                time.sleep(POLL_SECONDS)


def _text(outcome: dict) -> str:
    detail = error_text(outcome["error"])
    if outcome["status"] == "succeeded":
        detail = ", ".join([f"{outcome['pages']} pages", *outcome["warnings"]])
    return line(outcome["status"], outcome["job_id"], outcome["file"], detail)
