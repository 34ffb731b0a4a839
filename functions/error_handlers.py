"""One JSON error shape for the whole API: {"error": {"code", "message"}}, never a traceback."""

from __future__ import annotations

import logging

from flask import Flask, jsonify
from werkzeug.exceptions import HTTPException

from core.errors import PdfqError, QueueUnavailable, StorageUnavailable

log = logging.getLogger("pdfq.web")

# Codes for errors Flask raises itself, before a view runs.
_HTTP_CODES = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
    415: "unsupported_media_type",
}


# Outages whose messages are for operators: they name internal hosts and ports, buckets and
# keys. A public answer says what is down and to wait; the log (tagged with the request id
# that the answer's X-Request-ID carries) keeps the detail.
OUTAGES = {
    QueueUnavailable: "The job queue (Redis) is unavailable",
    StorageUnavailable: "Object storage is unavailable",
}


def public_message(error: PdfqError) -> str:
    """What an answer may say about `error` to whoever asked."""
    for kind, what in OUTAGES.items():
        if isinstance(error, kind):
            return f"{what}; try again shortly (the server's log has the detail)."
    return error.message


def error_response(
    status: int,
    code: str,
    message: str,
    retry_after: int | None = None,
    details: dict | None = None,
    **extra,
):
    response = jsonify({"error": {"code": code, "message": message, **(details or {})}, **extra})
    response.status_code = status
    if retry_after is not None:
        response.headers["Retry-After"] = str(retry_after)
    return response


def register(app: Flask):
    @app.errorhandler(PdfqError)
    def pdfq_error(error: PdfqError):
        if error.status >= 500:
            log.warning("%s: %s", error.code, error.message)
        details = {k: v for k, v in error.to_dict().items() if k not in ("code", "message")}
        response = error_response(
            error.status, error.code, public_message(error), error.retry_after, details
        )
        if error.status == 401:  # RFC 6750: say which scheme to use, and what was wrong
            problem = ', error="invalid_token"' if error.code == "invalid_token" else ""
            response.headers["WWW-Authenticate"] = f'Bearer realm="pdfq"{problem}'
        return response

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        status = error.code or 500
        message = error.description or error.name
        if status == 413:
            message = (
                "The request is too large: a body over the upload limit, a form field over "
                "500 KB, or more than 32 form fields."
            )
        return error_response(
            status, _HTTP_CODES.get(status, error.name.lower().replace(" ", "_")), message
        )

    @app.errorhandler(Exception)
    def unexpected(error: Exception):
        log.exception("unhandled error")
        return error_response(500, "internal_error", "Something went wrong inside pdfq.")
