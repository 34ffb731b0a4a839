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

from bench import rows  # noqa: E402
from bench.harness import HEADER, Servers  # noqa: E402

ALL = "abcdefg"


def main(argv: list[str] | None = None) -> list[rows.Row]:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--full", action="store_true", help="the whole corpus, more samples")
    parser.add_argument("--only", default=ALL, help="rows to run, e.g. --only ab (default all)")
    args = parser.parse_args(argv)
    only, full = set(args.only.replace(",", "")), args.full
    print(f"pdfq bench ({'full' if full else 'quick'}); worker: {rows.procfile_settings()}")
    print(f"cores: {os.cpu_count()}\n", flush=True)

    results: list[rows.Row] = []
    started = time.monotonic()
    raw = rows.raw_corpus(full) if only & set("aeg") else None

    def report(new: list[rows.Row]):
        for row in new:
            print(row.line(), flush=True)
        results.extend(new)

    print(HEADER)
    if "e" in only:
        report(rows.worker_memory(raw))
    if "g" in only:
        report(rows.engines(raw))
    if only & set("abcdf"):
        servers = Servers()
        try:
            # One stack as the Procfile runs it (2 process workers); 200 MB uploads allowed, and
            # no per-tenant limit: the presign row alone leaves hundreds of uploads waiting.
            stack = servers.stack(
                MAX_UPLOAD_BYTES=str(300 * 2**20),
                TENANT_MAX_JOBS_IN_FLIGHT="0",
                LOG_LEVEL="warning",
            )
            try:
                if "a" in only:
                    report(rows.throughput(stack, raw))
                if "b" in only:
                    report(rows.large_document(stack))
                if "c" in only:
                    report(rows.queue_latency(stack, 200 if full else 40))
                if "f" in only:
                    report(rows.dedup(stack, 10 if full else 3))
                if "d" in only:
                    report(rows.web(stack, 10 if full else 3))
            finally:
                stack.stop()
        finally:
            servers.stop()
    print(f"\n{len(results)} rows in {time.monotonic() - started:.0f} s")
    return results


if __name__ == "__main__":
    main()
