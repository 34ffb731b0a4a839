"""Real jobs in each state on a live Stack, for the schemathesis run to act on."""

from __future__ import annotations

from functools import cache

import requests

from tests.support.corpus import BAD, GOOD
from tests.support.stack import Stack

TOKEN = "openapi-test-token-0123456789abcdef"  # 32+ characters, as API_TOKENS wants
SMALL_PDF = GOOD / "pdfminer_jo.pdf"  # 3 KB, one page: extracted in well under a second
CORRUPT_PDF = BAD / "pdfjs_bug1020226.pdf"  # starts with %PDF-, fails `corrupt`
API = "/api/v1/pdf"
# What seed_jobs() returns, in order.
# "doomed" (succeeded) is the one DELETE acts on, so the others stay for every operation.
SEEDED_STATES = (
    "succeeded",
    "failed",
    "scheduled",
    "canceled",
    "awaiting_upload",
    "uploaded",
    "doomed",
)


@cache
def small_pdf() -> bytes:
    return SMALL_PDF.read_bytes()


def _post(stack: Stack, path: str, expect: int, body: dict | None = None) -> dict:
    status, answer = stack.post_json(API + path, body or {})
    assert status == expect, answer
    return answer


def _document(stack: Stack, path) -> str:
    status, job = stack.upload(path)
    assert status == 202, job
    return job["id"]


def _upload(stack: Stack, size: int | None = None) -> dict:
    body = {"filename": "seed.pdf", "content_type": "application/pdf"}
    if size:
        body["size"] = size
    return _post(stack, "/uploads", 201, body)


def seed_jobs(stack: Stack) -> list[str]:
    """Job ids in SEEDED_STATES order ("uploaded": awaiting_upload with its object in storage,
    so completing it succeeds). Requests carry TOKEN, as the stack's own token."""
    stack.token = TOKEN
    succeeded = _document(stack, SMALL_PDF)
    failed = _document(stack, CORRUPT_PDF)
    scheduled = _document(stack, SMALL_PDF)
    doomed = _document(stack, SMALL_PDF)
    canceled = _upload(stack)["id"]
    _post(stack, f"/jobs/{canceled}/cancel", 200)
    never_uploaded = _upload(stack)["id"]
    uploaded = _upload(stack, size=len(small_pdf()))
    put = uploaded["upload"]["put"]
    response = requests.put(put["url"], data=small_pdf(), headers=put["headers"], timeout=30)
    assert response.status_code == 200, response.text
    finished = (
        (succeeded, "succeeded"),
        (failed, "failed"),
        (scheduled, "succeeded"),
        (doomed, "succeeded"),
    )
    for job_id, status in finished:
        stack.wait_until(job_id, lambda job, status=status: job["status"] == status)
    _post(stack, f"/jobs/{scheduled}/reprocess", 202, {"delay": 3600})
    return [succeeded, failed, scheduled, canceled, never_uploaded, uploaded["id"], doomed]
