"""`flask --app functions pdf ...`: submit PDFs, follow jobs and provision, from a shell.

Results go to stdout, one tab-separated line per item (or JSON with --json); progress bars
and messages go to stderr; the exit code says how it went (functions/cli/common.py, and
docs/cli.md for people).
"""

from __future__ import annotations

from flask.cli import AppGroup

from functions.cli import api_tokens, reading, rerun, submit

pdf = AppGroup("pdf", help="Submit PDFs, follow their jobs, provision (exit codes: docs/cli.md).")
for command in (
    submit.submit,
    reading.status,
    reading.result,
    reading.queue,
    reading.failed,
    rerun.reprocess,
    rerun.cancel,
    reading.provision,
    api_tokens.token,
):
    pdf.add_command(command)
