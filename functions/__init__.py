"""The HTTP edge: create_app() builds the Flask app; views stay thin over core/."""

from __future__ import annotations

from flask import Flask

from core import logs
from core.settings import get_settings

API_PREFIX = "/api/v1/pdf"
# Multipart framing around the file: boundaries, headers and small fields.
FORM_OVERHEAD_BYTES = 64 * 1024


def create_app(test_config: dict | None = None) -> Flask:
    """Build the app; settings come from the environment, `test_config` overrides Flask config."""
    settings = get_settings()
    logs.configure(settings)
    app = Flask(__name__)
    app.config.update(MAX_CONTENT_LENGTH=settings.max_upload_bytes + FORM_OVERHEAD_BYTES)
    app.json.sort_keys = False  # keep fields in the order the API documents them
    if test_config:
        app.config.update(test_config)

    from functions import (
        auth,
        control,
        errors,
        events,
        headers,
        jobs,
        limits,
        openapi,
        ops,
        page,
        presign,
        uploads,
    )

    errors.register(app)
    headers.register(app, API_PREFIX)  # issue 6: CSP for the page, security headers everywhere
    auth.register(app)
    limits.register(app)
    app.register_blueprint(page.bp)
    app.register_blueprint(uploads.bp, url_prefix=API_PREFIX)
    app.register_blueprint(presign.bp, url_prefix=API_PREFIX)
    app.register_blueprint(events.bp, url_prefix=API_PREFIX)
    app.register_blueprint(jobs.bp, url_prefix=API_PREFIX)
    app.register_blueprint(control.bp, url_prefix=API_PREFIX)
    app.register_blueprint(ops.bp, url_prefix=API_PREFIX)
    app.register_blueprint(limits.bp, url_prefix=API_PREFIX)
    app.register_blueprint(openapi.bp, url_prefix=API_PREFIX)

    # Operations (issue 8): /metrics at the root, job ids on log lines, `flask pdf ...`.
    from functions import cli, metrics, weblog

    weblog.register(app)
    app.register_blueprint(metrics.bp)
    app.cli.add_command(cli.pdf)
    return app
