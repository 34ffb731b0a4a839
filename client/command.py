"""The `pdfq` command (also `python -m client`): submit, batch, status, result, cancel.

stdout carries results and one tab-separated line per file or job (status, job id, file,
detail), or with --json one JSON object per line; stderr carries progress, retries and
errors. The exit codes below are stable: scripts rely on them (docs/client.md lists them).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from client import connection
from client.connection import ConfigurationError
from client.progress import Reporter
from client.service import DIRECT_MAX_BYTES, FORMATS, Client
from client.transport import ApiError, Retries, Unreachable

OK = 0
FAILED = 1  # a file was refused, a job failed or was canceled, a request was refused
USAGE = 2  # a wrong command line, PDFQ_URL unset, or a token the service does not accept
UNAVAILABLE = 3  # no answer, a 5xx, or still 429/503 after every retry: try again later
NOT_FOUND = 4  # no such job (or not this token's)
NOT_READY = 5  # the job has not finished (`result`), or --wait ran out of time
INTERRUPTED = 130  # Ctrl-C

SUFFIX = {
    "text": ".txt",
    "json": ".json",
    "pages": ".jsonl",
    "blocks": ".blocks.jsonl",
    "markdown": ".md",
    "tables": ".tables.jsonl",
    "chunks": ".chunks.jsonl",
    "figures": ".figures.jsonl",
}


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="pdfq",
        description="Extract text from PDFs with a deployed pdfq service (PDFQ_URL, PDFQ_TOKEN).",
    )
    top.add_argument("--retries", type=int, default=8, help="tries again after 429/503 (8)")
    top.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
    commands = top.add_subparsers(dest="command", required=True)

    submit = commands.add_parser("submit", help="submit PDF files")
    submit.add_argument("files", nargs="+", type=Path, metavar="FILE", help="or a folder")
    submit.add_argument("-r", "--recursive", action="store_true", help="*.pdf in sub-folders")
    submit.add_argument("--wait", action="store_true", help="follow the jobs to their end")
    submit.add_argument("--timeout", type=float, default=600.0, help="seconds --wait waits")
    submit.add_argument("-o", "--output-dir", type=Path, help="with --wait: write each result")
    submit.add_argument("--format", choices=FORMATS, default="text", help="of --output-dir")
    submit.add_argument("--link", action="store_true", help="results straight from storage")
    submit.add_argument("--engine", help="pdfminer or pdfium (direct uploads only)")
    submit.add_argument("--pages", help="only these pages, e.g. 1-3,7")
    submit.add_argument("--max-pages", type=int)
    submit.add_argument("--no-layout", action="store_true", help="skip layout analysis")
    submit.add_argument("--laparams", type=json.loads, help="pdfminer LAParams as JSON")
    submit.add_argument("--password", help="opens an encrypted PDF")
    submit.add_argument("--outputs", help="extras to compute, e.g. tables,markdown,chunks")
    submit.add_argument("--chunk-chars", type=int, help="size of each chunk (1500)")
    submit.add_argument("--callback-url", help="webhook for the job's end")
    route = submit.add_mutually_exclusive_group()
    route.add_argument("--direct", action="store_true", help="always POST /documents")
    route.add_argument("--presigned", action="store_true", help="always a presigned upload")
    submit.add_argument(
        "--direct-max-bytes",
        type=int,
        default=DIRECT_MAX_BYTES,
        help=f"larger files go through a presigned upload ({DIRECT_MAX_BYTES})",
    )
    submit.add_argument("--json", action="store_true", help="one JSON job per line")

    batch = commands.add_parser(
        "batch",
        help="a batch (POST /batches): a file of URLs, or s3://BUCKET/PREFIX of a granted "
        "bucket; or a folder of PDFs",
    )
    batch.add_argument("source", metavar="URLS_FILE|s3://BUCKET/PREFIX|FOLDER")
    batch.add_argument("--start-after", help="s3://: list only the keys after this one")
    batch.add_argument("-r", "--recursive", action="store_true", help="folder: sub-folders too")
    batch.add_argument("--wait", action="store_true", help="follow the batch to its end")
    batch.add_argument("--timeout", type=float, default=3600.0, help="seconds --wait waits")
    batch.add_argument("--engine", help="pdfminer, pdfium or ocr")
    batch.add_argument("--pages", help="only these pages, e.g. 1-3,7")
    batch.add_argument("--max-pages", type=int)
    batch.add_argument("--no-layout", action="store_true", help="skip layout analysis")
    batch.add_argument("--laparams", type=json.loads, help="pdfminer LAParams as JSON")
    batch.add_argument("--password", help="opens encrypted PDFs")
    batch.add_argument("--outputs", help="extras to compute, e.g. tables,markdown,chunks")
    batch.add_argument("--chunk-chars", type=int, help="size of each chunk (1500)")
    batch.add_argument("--callback-url", help="the batch's batch.finished webhook")
    batch.add_argument("--json", action="store_true", help="one JSON line per job")
    batch.set_defaults(
        output_dir=None, format="text", link=False, direct=False, presigned=False, files=None
    )

    status = commands.add_parser("status", help="show jobs")
    status.add_argument("ids", nargs="+", metavar="ID")
    status.add_argument("--json", action="store_true", help="the API's job, one per line")

    result = commands.add_parser("result", help="print or save a job's result")
    result.add_argument("id", metavar="ID")
    result.add_argument("--format", choices=FORMATS, default="text")
    result.add_argument("-o", "--output", type=Path, help="a file instead of stdout")
    result.add_argument("--link", action="store_true", help="straight from storage")

    cancel = commands.add_parser("cancel", help="cancel jobs")
    cancel.add_argument("ids", nargs="+", metavar="ID")
    cancel.add_argument("--json", action="store_true")
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if getattr(args, "link", False) and args.format == "json":
        parser().error("--link takes --format text or pages (json comes whole only from /result)")
    if getattr(args, "link", False) and args.format == "figures":
        parser().error("--link does not take --format figures: each figure has its own link")
    report = Reporter(quiet=args.quiet)
    try:
        conn = connection.from_environment()
        pdfq = Client(conn, retries=Retries(attempts=max(0, args.retries), notify=report.say))
        if args.command == "submit":
            pdfq.direct_max_bytes = args.direct_max_bytes
        return COMMANDS[args.command](pdfq, args, report)
    except ConfigurationError as error:
        report.say(str(error))
        return USAGE
    except Unreachable as error:
        report.say(f"unavailable: {error}")
        return UNAVAILABLE
    except ApiError as error:
        report.say(f"{error.code}: {error.message}")
        return exit_code(error)
    except KeyboardInterrupt:
        report.say("interrupted")
        return INTERRUPTED


def exit_code(error: ApiError) -> int:
    if error.status == 401:
        return USAGE
    if error.status == 404:
        return NOT_FOUND
    if error.code == "result_not_ready":
        return NOT_READY
    if error.status in (429,) or error.status >= 500:
        return UNAVAILABLE
    return FAILED


def line(args, status: str, job_id: str | None, name: str, detail: str, job: dict | None):
    if getattr(args, "json", False) and job is not None:
        print(json.dumps(job), flush=True)
    else:
        print("\t".join([status, job_id or "-", name, detail or "-"]), flush=True)


def detail(job: dict) -> str:
    if job.get("error"):
        return f"{job['error']['code']}: {job['error']['message']}"
    parts = [f"{job['pages_total']} pages"] if job.get("pages_total") is not None else []
    return ", ".join(parts + list(job.get("warnings") or []))


def job_options(args) -> dict:
    return {
        "pages": args.pages,
        "max_pages": args.max_pages,
        "layout": False if args.no_layout else None,
        "laparams": args.laparams,
        "password": args.password,
        "outputs": args.outputs,
        "chunk_chars": args.chunk_chars,
        "callback_url": args.callback_url,
    }


def run_submit(pdfq: Client, args, report: Reporter) -> int:
    options = job_options(args)
    presigned = True if args.presigned else (False if args.direct else None)
    names: dict[str, str] = {}
    refused = 0
    for path in args.files:
        if not path.exists():
            report.say(f"{path}: no such file or folder")
            return USAGE
    args.files = pdf_files(args.files, args.recursive)
    if not args.files:
        report.say("no *.pdf files in the folders given")
        return USAGE
    for path in args.files:
        route = "presigned" if pdfq.presigns(path, args.engine, presigned) else "direct"
        try:
            job = pdfq.submit(
                path,
                engine=args.engine,
                options=options,
                presigned=presigned,
                progress=report.uploader(path.name, route),
            )
        except ApiError as error:
            if error.status in (401, 429) or error.status >= 500:
                raise  # the service, not this file: stop with its exit code
            refused += 1
            line(args, "refused", None, str(path), f"{error.code}: {error.message}", None)
            continue
        except ValueError as error:
            report.say(str(error))
            return USAGE
        names[job["id"]] = str(path)
        if not args.wait:
            line(args, job["status"], job["id"], str(path), detail(job), job)
    if not args.wait:
        report.note(f"{len(args.files)} files: {len(names)} submitted, {refused} refused")
        return FAILED if refused else OK
    try:
        jobs = pdfq.wait(
            names,
            timeout=args.timeout,
            on_change=lambda job: report.job(job, names[job["id"]]),
        )
    except TimeoutError as error:
        for job_id in error.args[0]:
            report.say(f"{job_id} {names[job_id]}: not finished after {args.timeout:g} s")
        return NOT_READY
    counts: dict[str, int] = {}
    for job_id, job in jobs.items():
        line(args, job["status"], job_id, names[job_id], detail(job), job)
        counts[job["status"]] = counts.get(job["status"], 0) + 1
        if args.output_dir and job["status"] == "succeeded":
            args.output_dir.mkdir(parents=True, exist_ok=True)
            target = args.output_dir / (Path(names[job_id]).stem + SUFFIX[args.format])
            with open(target, "wb") as sink:
                pdfq.result(job_id, args.format, sink, link=args.link)
    if refused:
        counts["refused"] = refused
    summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
    report.note(f"{len(args.files)} files: {summary}")
    return OK if set(counts) <= {"succeeded"} else FAILED


def run_batch(pdfq: Client, args, report: Reporter) -> int:
    """A file of URLs (one a line; blank lines and # comments skipped), or s3://bucket/prefix
    of a bucket granted to the tenant (the service lists it), becomes one batch; a folder's
    PDFs are uploaded one job each, as `submit` does (a batch takes URLs and keys)."""
    if not args.source.startswith("s3://") and Path(args.source).is_dir():
        args.files = [Path(args.source)]
        return run_submit(pdfq, args, report)
    sources = batch_sources(args, report)
    if isinstance(sources, int):
        return sources
    batch = pdfq.create_batch(sources, engine=args.engine, options=job_options(args))
    if batch.get("listing"):
        report.note(f"batch {batch['id']}: the service lists {args.source}")
    else:
        report.note(f"batch {batch['id']}: {batch['total']} sources")
    if not args.wait:
        print(json.dumps(batch) if args.json else f"{batch['status']}\t{batch['id']}", flush=True)
        return OK
    try:
        batch = pdfq.wait_batch(batch["id"], timeout=args.timeout, on_change=report.batch)
    except TimeoutError:
        report.say(f"batch {batch['id']}: not ended after {args.timeout:g} s")
        return NOT_READY
    statuses: dict[str, int] = {}
    for entry in pdfq.batch_manifest(batch["id"]):
        statuses[entry["status"]] = statuses.get(entry["status"], 0) + 1
        if args.json:
            print(json.dumps(entry), flush=True)
        else:
            fields = [entry["status"], entry["job_id"] or "-", entry["source"]]
            print("\t".join([*fields, entry.get("error_code") or "-"]), flush=True)
    summary = ", ".join(f"{n} {status}" for status, n in sorted(statuses.items()))
    report.note(f"batch {batch['id']} {batch['status']}: {summary}")
    for rest in (batch.get("listing") or {}).get("next") or []:
        after = f" --start-after {rest['start_after']}" if rest.get("start_after") else ""
        report.say(
            f"batch {batch['id']} is full (10,000 sources); the rest: "
            f"pdfq batch s3://{rest['bucket']}/{rest['prefix']}{after}"
        )
    return OK if set(statuses) <= {"succeeded"} else FAILED


def batch_sources(args, report: Reporter) -> list | int:
    """The sources of `pdfq batch SOURCE` (a file of URLs, or a granted prefix), or the exit
    code when there are none to send."""
    if args.source.startswith("s3://"):
        bucket, _, prefix = args.source.removeprefix("s3://").partition("/")
        if not bucket:
            report.say(f"{args.source}: expected s3://BUCKET/PREFIX")
            return USAGE
        source = {"bucket": bucket, "prefix": prefix}
        return [{**source, "start_after": args.start_after} if args.start_after else source]
    if args.start_after:
        report.say("--start-after goes with s3://BUCKET/PREFIX only")
        return USAGE
    path = Path(args.source)
    if not path.is_file():
        report.say(f"{args.source}: no such file or folder")
        return USAGE
    lines = path.read_text().splitlines()
    urls = [u.strip() for u in lines if u.strip() and not u.lstrip().startswith("#")]
    if not urls:
        report.say(f"{args.source}: no URLs in it")
        return USAGE
    return urls


def pdf_files(paths: list[Path], recursive: bool) -> list[Path]:
    """The files named, and the *.pdf files of the folders named (-r: their sub-folders')."""
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


def run_status(pdfq: Client, args, report: Reporter) -> int:
    code = OK
    for job_id in args.ids:
        try:
            job = pdfq.status(job_id)
        except ApiError as error:
            if error.status != 404:
                raise
            report.say(f"{job_id}: not_found: {error.message}")
            code = NOT_FOUND
            continue
        pages = f"{job.get('pages_done') or 0}/{job.get('pages_total')} pages"
        if job.get("pages_total") is None:
            pages = "-"
        extra = detail(job) if job.get("error") else pages
        line(args, job["status"], job["id"], job.get("filename") or "-", extra, job)
    return code


def run_result(pdfq: Client, args, report: Reporter) -> int:
    if not args.output:
        pdfq.result(args.id, args.format, sys.stdout.buffer, link=args.link)
        sys.stdout.buffer.flush()
        return OK
    try:
        with open(args.output, "wb") as sink:
            pdfq.result(args.id, args.format, sink, link=args.link)
    except (ApiError, Unreachable):
        args.output.unlink(missing_ok=True)  # no empty or partial result left behind
        raise
    return OK


def run_cancel(pdfq: Client, args, report: Reporter) -> int:
    code = OK
    for job_id in args.ids:
        try:
            answer = pdfq.cancel(job_id)
        except ApiError as error:
            if error.status not in (404, 409):
                raise
            # An unknown id outranks a finished job in the exit code.
            code = NOT_FOUND if error.status == 404 else (code or FAILED)
            line(args, "refused", job_id, "-", f"{error.code}: {error.message}", None)
            continue
        # A running job answers "processing" with cancel_requested: it stops at its next page.
        shown = "cancel_requested" if answer.get("cancel_requested") else answer["status"]
        line(args, shown, answer["id"], answer.get("filename") or "-", "-", answer)
    return code


COMMANDS = {
    "submit": run_submit,
    "batch": run_batch,
    "status": run_status,
    "result": run_result,
    "cancel": run_cancel,
}
