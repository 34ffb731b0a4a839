"""AWS Lambda entry point for the HTTP API: the same Flask app gunicorn serves, behind a
Lambda function URL or an API Gateway HTTP API (payload format 2.0; 1.0 and ALB events work
too), through apig-wsgi.

The app and its Services are built on the first request and kept for the container's life,
as a gunicorn worker keeps them; each invocation is one WSGI request. Request bodies arrive
whole in the event (base64 for binary ones, which apig-wsgi decodes), so a direct upload is
bounded by Lambda's 6 MB payload: larger files take the presigned path (docs/deploy-lambda.md).
The worker is not a function: huey_consumer stays a long-running process.
"""

from __future__ import annotations

import functools
import logging

from apig_wsgi import make_lambda_handler
from flask import Flask

from functions import create_app
from functions.auth import startup_check

log = logging.getLogger("pdfq.serverless")


@functools.cache
def app() -> Flask:
    """This container's app, from the environment (once). What gunicorn refuses to start
    without (API_TOKENS in production) is logged as an error instead: the app then answers
    every request but health 503 auth_not_configured, which says the same to callers."""
    built = create_app()
    problem, warning = startup_check(built.extensions["pdfq"].settings)
    if problem or warning:
        log.log(logging.ERROR if problem else logging.WARNING, problem or warning)
    return built


@functools.cache
def _adapter():
    # Binary responses go back base64-encoded, as function URLs and HTTP APIs expect.
    return make_lambda_handler(app(), binary_support=True)


def handler(event: dict, context=None) -> dict:
    """Lambda's handler: an HTTP event in, the response as Lambda returns it to the caller."""
    return _adapter()(event, context)
