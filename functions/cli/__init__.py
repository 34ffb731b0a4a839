"""`flask --app functions pdf ...`: submit PDFs, follow jobs and provision, from a shell.

Results go to stdout, one tab-separated line per item (or JSON with --json); progress bars
and messages go to stderr; the exit code says how it went (functions/cli/common.py, and
docs/cli.md for people).
"""

from __future__ import annotations

import dataclasses

from flask import current_app
from flask.cli import AppGroup, with_appcontext

from core import logs
from functions.cli import api_tokens, browse, reading, rerun, submit


@with_appcontext
def _readable_logs():
    """stderr is read by a person here: pdfq's own lines as text, warnings and errors only
    (LOG_FORMAT=json is for the web and worker's log drains)."""
    settings = current_app.extensions["pdfq"].settings
    logs.configure(dataclasses.replace(settings, log_format="text", log_level="WARNING"))


pdf = AppGroup(
    "pdf",
    help="Submit PDFs, follow their jobs, provision (exit codes: docs/cli.md).",
    callback=_readable_logs,
)
for command in (
    submit.submit,
    reading.status,
    reading.result,
    reading.queue,
    reading.failed,
    browse.jobs,
    rerun.reprocess,
    rerun.cancel,
    browse.delete,
    browse.reindex_command,
    reading.provision,
    api_tokens.token,
):
    pdf.add_command(command)
