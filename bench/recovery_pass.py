"""`python -m bench.recovery_pass`: the recovery pass the worker runs every minute, once, with
the stack's settings (row k). `python -m consumer.recovery` also recounts finished jobs by
reading every record, which is the hourly pass's work, not the minute's."""

from __future__ import annotations

from consumer import tasks
from consumer.recovery import reconcile
from core.services import build
from core.settings import settings_or_exit

if __name__ == "__main__":
    runtime = build(settings_or_exit())
    tasks.register(runtime)
    print(f"reconcile: {reconcile(runtime)}")
