"""`python -m bench [--full] [--only a,c]`: run the benchmarks and print the table.

Quick (default): the corpus without its two long books, short load runs, few samples; a
few minutes on 2 cores. --full: the whole corpus and more samples (docs/performance.md).
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("PDFQ_ENV_FILE", "")  # the benchmark's stacks carry their own settings
# An open server, as `make run`: the rows measure the pipeline (auth adds one SHA-256).
os.environ.setdefault("PDFQ_ENV", "development")

from bench import (  # noqa: E402
    cost,
    language_rows,
    rows,
    small_docs,
    storage_client,
    structure_rows,
    table_rows,
    viewer,
)
from bench.harness import HEADER, WORKER_CPUS, Servers, can_pin  # noqa: E402

ALL = "abcdefghijklmnopqrs"


def main(argv: list[str] | None = None) -> list[rows.Row]:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--full", action="store_true", help="the whole corpus, more samples")
    parser.add_argument("--only", default=ALL, help="rows to run, e.g. --only ab (default all)")
    parser.add_argument(
        "--latency-ms",
        type=float,
        default=20,
        help="delay per storage request in the 'with latency' rows (default 20, as in-region S3)",
    )
    args = parser.parse_args(argv)
    only, full = set(args.only.replace(",", "")), args.full
    print(f"pdfq bench ({'full' if full else 'quick'}); worker: {rows.procfile_settings()}")
    print(f"cores: {os.cpu_count()}\n", flush=True)

    results: list[rows.Row] = []
    started = time.monotonic()
    raw = rows.raw_corpus(full) if only & set("aegj") else None

    def report(new: list[rows.Row]):
        for row in new:
            print(row.line(), flush=True)
        results.extend(new)

    print(HEADER)
    if "e" in only:
        report(rows.worker_memory(raw))
    if "g" in only:
        report(rows.engines(raw))
    if "j" in only:
        report(rows.peers(raw))
    if "m" in only:
        report(structure_rows.ocr_quality(full))
    if "n" in only:
        report(structure_rows.outline_headings(full))
    if "q" in only:
        report(table_rows.rows(full))
    if "r" in only:
        report(language_rows.rows(full))
    if "p" in only:
        servers = Servers(0)
        try:
            report(storage_client.rows(servers.s3_url, 300 if full else 30))
        finally:
            servers.stop()
    if only & STACK_ROWS:
        # The rows on the live stack, in two modes: the machine's cores shared by every
        # process, then (rows a, h and o) pinned: storage, Redis, web and this process on one
        # core, the workers and the raw baselines on the other.
        for pinned in (False, True) if can_pin() else (False,):
            wanted = only & (PINNED_ROWS if pinned else STACK_ROWS)
            if wanted:
                servers = Servers(args.latency_ms / 1000, pinned=pinned)
                try:
                    stack_rows(servers, wanted, raw, full, report)
                finally:
                    servers.stop()
    print(f"\n{len(results)} rows in {time.monotonic() - started:.0f} s")
    return results


STACK_ROWS = set("abcdfhiklos")
PINNED_ROWS = set("aho")


def stack_rows(servers: Servers, only: set[str], raw, full: bool, report):
    pinned = servers.pinned
    small = None
    if only & set("hl"):
        cpus = WORKER_CPUS if pinned else None
        small = rows.raw_small(500 if full else 60, servers.folder, cpus)
    if pinned and "a" in only:
        raw = rows.pinned_corpus(raw)
    # The throughput rows run twice: on the local S3 server, then with every storage request
    # delayed as real S3 delays it; one stack at a time, so they never share the cores.
    for slow in (False, True):
        # One stack as the Procfile runs it (8 thread workers, 2 extraction slots); 200 MB
        # uploads allowed, and no per-tenant limit: the presign row alone leaves hundreds of
        # uploads waiting.
        stack = servers.stack(
            slow,
            MAX_UPLOAD_BYTES=str(300 * 2**20),
            TENANT_MAX_JOBS_IN_FLIGHT="0",
            LOG_LEVEL="warning",
        )
        try:
            if "a" in only:
                report(rows.throughput(stack, raw))
            if "h" in only:
                report(rows.small_documents(stack, small))
            if pinned:
                continue
            if "b" in only:
                report(rows.large_document(stack))
            if "f" in only:
                report(rows.dedup(stack, 10 if full else 3))
            # Queue latency never waits on storage; the presign and upload rows measure the
            # web's own cost: local only.
            if not slow and "c" in only:
                report(rows.queue_latency(stack, 200 if full else 40))
            if not slow and "d" in only:
                report(rows.web(stack, 10 if full else 3))
            if not slow and "s" in only:
                report(viewer.first_page(stack))
        finally:
            stack.stop()
    if only & set("io"):
        # 200 one-page documents, 4 clients, as the floor pipeline measures itself.
        folder = servers.folder / "one-page"
        folder.mkdir(exist_ok=True)
        files = small_docs.make(folder, 200 if full else 40)
        found = {}
        if "o" in only:
            cpu, found = cost.cpu_rows(servers, files)
            report(cpu)
            if not pinned and full:
                report(cost.floor_rows(servers, files, found))
        if "i" in only and not pinned:
            report(
                cost.request_rows(found.get("pdfminer") or cost.per_job(servers, files, "pdfminer"))
            )
    if pinned:
        return
    if "l" in only:
        report(rows.thread_workers(servers, small, 8))
    if "k" in only:
        report(rows.many_jobs(servers, 1000, 20_000 if full else 5000))


if __name__ == "__main__":
    main()
