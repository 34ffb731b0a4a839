"""Liveness: the web process answers, and nothing else is asked.

GET /health is deep (the queue and storage must answer) and belongs to monitoring and deploy
checks; a platform that restarts what fails its check should ask this one instead, since
restarting the web does not bring Redis or S3 back.
"""

from __future__ import annotations

from flask import Blueprint

from functions.auth import public

bp = Blueprint("liveness", __name__)


@bp.get("/health/live")
@public  # platforms' checks carry no token
def live():
    """200 while this process serves requests; touches neither the queue nor storage."""
    return {"status": "alive"}
