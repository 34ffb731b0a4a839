"""Web logs: the request id and the job id on every line logged for a request; gunicorn's
lines too.

The request id is the router's X-Request-ID (Heroku sends one; a client may) when it looks
like an id, or one made up here; every response carries it back in X-Request-ID, so a
user's report and the platform's router log lead to the same lines.

gunicorn.conf.py names GunicornLogger, so gunicorn's own lines and its access lines come out
in LOG_FORMAT like the app's, with the method, path, status, duration and job id as fields.
"""

from __future__ import annotations

import re
import uuid

from flask import Flask, g, request
from gunicorn import glogging

from core import keys, logs
from core.settings import settings_or_exit

_JOB_IN_PATH = re.compile(r"/jobs/([0-9a-f]{32})(?:/|$)")
REQUEST_ID_HEADER = "X-Request-ID"
# What an id may look like (UUIDs, Heroku's, most tracing ids); anything else is replaced,
# so a client cannot write arbitrary text into every log line.
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{8,128}")


def request_id_of(header: str | None) -> str:
    """The incoming id when it looks like one, else a new one (32 hex digits)."""
    if header and _REQUEST_ID.fullmatch(header.strip()):
        return header.strip()
    return uuid.uuid4().hex


def register(app: Flask):
    @app.before_request
    def _bind_request():
        g.pdfq_request_id = request_id_of(request.headers.get(REQUEST_ID_HEADER))
        g.pdfq_request_token = logs.bind_request(g.pdfq_request_id)

    @app.after_request
    def _return_request_id(response):
        if "pdfq_request_id" in g:
            response.headers[REQUEST_ID_HEADER] = g.pdfq_request_id
        return response

    @app.before_request
    def _bind_job():
        job_id = (request.view_args or {}).get("job_id")
        if job_id and keys.is_job_id(job_id):
            g.pdfq_log_token = logs.bind_job(job_id)

    @app.teardown_request
    def _unbind_job(exc):
        token = g.pop("pdfq_log_token", None)
        if token is not None:
            logs.unbind_job(token)
        token = g.pop("pdfq_request_token", None)
        if token is not None:
            logs.unbind_request(token)


class GunicornLogger(glogging.Logger):
    """gunicorn's logger, writing LOG_FORMAT lines; access lines carry the job id."""

    def setup(self, cfg):
        super().setup(cfg)
        settings = settings_or_exit()
        for log in (self.error_log, self.access_log):
            for handler in log.handlers:
                logs.prepare(handler, settings)

    def access(self, resp, req, environ, request_time):
        if not self.access_log_enabled:
            return
        atoms = self.atoms(resp, req, environ, request_time)
        path = environ.get("PATH_INFO", "")  # without the query string, which may hold secrets
        match = _JOB_IN_PATH.search(path)
        duration_ms = round(request_time.total_seconds() * 1000, 1)
        self.access_log.info(
            "%s %s %s %sms",
            req.method,
            path,
            atoms["s"],
            duration_ms,
            extra={
                "method": req.method,
                "path": path,
                "status": int(atoms["s"]) if str(atoms["s"]).isdigit() else atoms["s"],
                "duration_ms": duration_ms,
                "remote_addr": atoms["h"],
                "job_id": match[1] if match else None,
                # The request is over: the id is read back from the response's header.
                "request_id": _header(resp, REQUEST_ID_HEADER),
            },
        )


def _header(resp, name: str) -> str | None:
    for key, value in getattr(resp, "headers", None) or []:
        if key.lower() == name.lower():
            return value
    return None
