"""The HTTP edge: create_app() builds the Flask app; views stay thin over core/."""

from __future__ import annotations

from flask import Flask

from core import logs
from core.services import Services
from functions import (
    auth,
    batch_views,
    context,
    documents,
    error_handlers,
    events,
    headers,
    job_control,
    job_list,
    job_views,
    limits,
    live_events,
    liveness,
    openapi,
    ops,
    page,
    prometheus,
    uploads,
    weblog,
)
from functions.cli import pdf

API_PREFIX = "/api/v1/pdf"
# Multipart framing around the file: boundaries, headers and small fields.
FORM_OVERHEAD_BYTES = 64 * 1024
# A form has a dozen fields at most (functions/documents.py refuses others; each option's
# length is bounded in core/jobs/options.py): Werkzeug's 1,000 parts of up to 500 KB each
# would be held in memory before any field is checked.
MAX_FORM_PARTS = 32


def create_app(test_config: dict | None = None, services: Services | None = None) -> Flask:
    """Build the app on `services` (from the environment when not given: context.start());
    `test_config` overrides Flask's config."""
    services = services or context.start()
    logs.configure(services.settings)
    app = Flask(__name__)
    app.extensions["pdfq"] = services
    app.config.update(
        MAX_CONTENT_LENGTH=services.settings.max_upload_bytes + FORM_OVERHEAD_BYTES,
        MAX_FORM_PARTS=MAX_FORM_PARTS,
    )
    app.json.sort_keys = False  # keep fields in the order the API documents them
    if test_config:
        app.config.update(test_config)

    error_handlers.register(app)
    weblog.register(app)  # first: the request id must tag what every later hook logs
    headers.register(app, API_PREFIX)
    headers.trust_proxies(app, services.settings.proxy_hops)
    auth.register(app)
    limits.register(app)
    app.register_blueprint(page.bp)
    for blueprint in (
        documents.bp,
        batch_views.bp,
        live_events.bp,
        uploads.bp,
        events.bp,
        job_views.bp,
        job_list.bp,
        job_control.bp,
        ops.bp,
        liveness.bp,
        limits.bp,
        openapi.bp,
    ):
        app.register_blueprint(blueprint, url_prefix=API_PREFIX)
    app.register_blueprint(prometheus.bp)  # /metrics at the root, where Prometheus looks
    app.cli.add_command(pdf)
    return app
