"""What every `flask pdf` command shares: exit codes, error reporting, output lines."""

from __future__ import annotations

import functools
import sys

import click
from flask import current_app, has_app_context

from core import keys
from core.errors import NotFound, PdfqError, ResultNotReady, StorageUnavailable, Unavailable
from core.exitcodes import FAILED, NOT_FOUND, NOT_READY, UNAVAILABLE
from infra import run_record

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
            fail(f"{error.code}: {error.message}{_hint(error)}", exit_code(error))

    return run


def _hint(error: PdfqError) -> str:
    """How to reach storage from this shell, when it is `make run`'s local S3 that answers
    elsewhere: this shell has no S3_ENDPOINT_URL, so it asked AWS (often without credentials)."""
    if not isinstance(error, StorageUnavailable) or not has_app_context():
        return ""
    settings = current_app.extensions["pdfq"].settings
    if settings.s3_endpoint_url:
        return ""
    running = run_record.read(settings.data_dir) or {}
    where = running.get("S3_ENDPOINT_URL")
    if where:
        return (
            f" `make run` is serving with its local S3 at {where}, which this shell does not "
            'name: run the command as make cli ARGS="...", which uses make run\'s settings.'
        )
    return (
        " S3_ENDPOINT_URL is not set, so this is AWS S3 with the standard AWS credentials. "
        'Beside `make run`, use make cli ARGS="..." (it reaches make run\'s local S3), or set '
        "S3_ENDPOINT_URL and the AWS credentials of the store."
    )


def fail(message: str, code: int):
    click.echo(f"pdf: {message}", err=True)
    sys.exit(code)


def line(*fields) -> str:
    """One tab-separated output line; a missing field is '-'."""
    return "\t".join("-" if f is None else str(f) for f in fields)


def error_text(error: dict | None) -> str | None:
    return f"{error['code']}: {error['message']}" if error else None
