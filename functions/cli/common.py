"""What every `flask pdf` command shares: exit codes, error reporting, output lines."""

from __future__ import annotations

import functools
import sys

import click

from core import keys
from core.errors import NotFound, PdfqError, ResultNotReady, Unavailable
from core.exitcodes import FAILED, NOT_FOUND, NOT_READY, UNAVAILABLE

tenant_option = click.option(
    "--tenant", default=keys.DEFAULT_TENANT, show_default=True, help="Whose jobs."
)
json_option = click.option("--json", "as_json", is_flag=True, help="JSON instead of text lines.")


def exit_code(error: PdfqError) -> int:
    if isinstance(error, Unavailable):
        return UNAVAILABLE
    if isinstance(error, NotFound):
        return NOT_FOUND
    if isinstance(error, ResultNotReady):
        return NOT_READY
    return FAILED


def reports_errors(command):
    """pdfq's errors end the command with `pdf: <code>: <message>` and their exit code."""

    @functools.wraps(command)
    def run(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except PdfqError as error:
            fail(f"{error.code}: {error.message}", exit_code(error))

    return run


def fail(message: str, code: int):
    click.echo(f"pdf: {message}", err=True)
    sys.exit(code)


def line(*fields) -> str:
    """One tab-separated output line; a missing field is '-'."""
    return "\t".join("-" if f is None else str(f) for f in fields)


def error_text(error: dict | None) -> str | None:
    return f"{error['code']}: {error['message']}" if error else None
