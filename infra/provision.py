"""Provisioning, safe on every release: make the bucket and Redis what pdfq needs.

    python -m infra.provision           # create or fix what is missing, report the rest
    python -m infra.provision --check   # report what it would change; change nothing

One line per finding on stdout; failures on stderr as `provision failed: <what>: <why>`.
Exit codes (core/exitcodes.py): 0 all in place, 1 a problem provisioning cannot fix,
2 a bad setting, 3 storage or Redis unreachable, 6 (--check only) changes to make.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from core.adapters.storage import Storage
from core.errors import PdfqError
from core.settings import Settings, settings_or_exit
from infra import bucket, cors, ocr_check, redis_check
from infra.report import FAILED, UNAVAILABLE, Outcome, exit_code


def provision(storage: Storage, settings: Settings, apply: bool = True) -> list[Outcome]:
    """Every step's findings; a step that cannot go on reports why and the others still run."""
    steps: list[tuple[str, Callable[[], list[Outcome]]]] = [
        (f"bucket {settings.s3_bucket}", lambda: bucket.provision(storage, settings, apply)),
        ("cors", lambda: cors.provision(storage, settings, apply)),
        ("redis", lambda: redis_check.provision(settings, apply)),
        ("ocr", lambda: ocr_check.provision(settings, apply)),
    ]
    outcomes: list[Outcome] = []
    for subject, step in steps:
        try:
            outcomes += step()
        except PdfqError as exc:
            state = UNAVAILABLE if exc.retryable else FAILED
            outcomes.append(Outcome(subject, state, exc.message))
    return outcomes


def run(storage: Storage, settings: Settings, check: bool) -> int:
    """Provision (or, with `check`, only report), print the findings; the exit code."""
    outcomes = provision(storage, settings, apply=not check)
    for outcome in outcomes:
        failed = outcome.state in (FAILED, UNAVAILABLE)
        print(outcome.line(), file=sys.stderr if failed else sys.stdout, flush=True)
    return exit_code(outcomes, check)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.provision", description=__doc__)
    parser.add_argument("--check", action="store_true", help="change nothing, report")
    check = parser.parse_args(argv).check
    settings = settings_or_exit()
    return run(Storage(settings), settings, check)


if __name__ == "__main__":
    sys.exit(main())
