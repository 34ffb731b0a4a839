"""`python -m consumer.recovery`: one recovery pass now, with the worker's settings (after
the pass a worker is running, if one is)."""

from __future__ import annotations

import sys

from consumer import tasks
from consumer.recovery import reconcile
from core import keys
from core.errors import PdfqError
from core.services import build
from core.settings import settings_or_exit


def main() -> int:
    runtime = build(settings_or_exit())
    tasks.register(runtime)  # recovery enqueues the worker's task
    try:
        # Asked for by hand: a pass the worker is running is waited for, not a reason to skip.
        report = reconcile(runtime, wait=keys.RECOVERY_LOCK_TTL + 10)
    except PdfqError as exc:
        print(f"reconcile failed: {exc.message}", file=sys.stderr)
        return 1
    print(f"reconcile: {report}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
