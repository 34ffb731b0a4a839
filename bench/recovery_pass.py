"""`python -m bench.recovery_pass [--hourly]`: the recovery pass the worker runs every minute
(or, with --hourly, the copy of the counters it makes every hour), once, with the stack's
settings (row k)."""

from __future__ import annotations

import sys

from consumer import recovery, tasks
from core.services import build
from core.settings import settings_or_exit

if __name__ == "__main__":
    runtime = build(settings_or_exit())
    tasks.register(runtime)
    if "--hourly" in sys.argv[1:]:
        recovery.save_counts(runtime)
    else:
        print(f"reconcile: {recovery.reconcile(runtime)}")
