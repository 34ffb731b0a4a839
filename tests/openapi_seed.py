"""Real jobs in each state on a live Stack, for the schemathesis run to act on."""

from __future__ import annotations

import time
from functools import cache

import requests

from tests.corpus import BAD, GOOD
from tests.stack import Stack

TOKEN = "openapi-test-token-0123456789abcdef"  # 32+ characters, as API_TOKENS wants
SMALL_PDF = GOOD / "pdfminer_jo.pdf"  # 3 KB, one page: extracted in well under a second
CORRUPT_PDF = BAD / "pdfjs_bug1020226.pdf"  # starts with %PDF-, fails `corrupt`
API = "/api/v1/pdf"
# What seed_jobs() returns, in order.
SEEDED_STATES = ("succeeded", "failed", "scheduled", "canceled", "awaiting_upload", "uploaded")


@cache
def small_pdf() -> bytes:
    return SMALL_PDF.read_bytes()


class Client:
    """The API as a token holder sees it."""

    def __init__(self, stack: Stack):
        self.base = stack.base + API
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {TOKEN}"

    def post(self, path: str, expect: int, **kwargs) -> dict:
        response = self.session.post(self.base + path, timeout=30, **kwargs)
        assert response.status_code == expect, response.text
        return response.json()

    def document(self, data: bytes, name: str) -> str:
        files = {"file": (name, data, "application/pdf")}
        return self.post("/documents", 202, files=files)["id"]

    def upload(self, size: int | None = None) -> dict:
        body = {"filename": "seed.pdf", "content_type": "application/pdf"}
        if size:
            body["size"] = size
        return self.post("/uploads", 201, json=body)

    def wait(self, job_id: str, status: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while True:
            job = self.session.get(f"{self.base}/jobs/{job_id}", timeout=30).json()
            if job["status"] == status:
                return
            assert time.monotonic() < deadline, job
            time.sleep(0.1)


def seed_jobs(stack: Stack) -> list[str]:
    """Job ids in SEEDED_STATES order ("uploaded": awaiting_upload with its object in storage,
    so completing it succeeds)."""
    client = Client(stack)
    succeeded = client.document(small_pdf(), "small.pdf")
    failed = client.document(CORRUPT_PDF.read_bytes(), "corrupt.pdf")
    scheduled = client.document(small_pdf(), "later.pdf")
    canceled = client.upload()["id"]
    client.post(f"/jobs/{canceled}/cancel", 200)
    never_uploaded = client.upload()["id"]
    uploaded = client.upload(size=len(small_pdf()))
    put = uploaded["upload"]["put"]
    response = requests.put(put["url"], data=small_pdf(), headers=put["headers"], timeout=30)
    assert response.status_code == 200, response.text
    client.wait(succeeded, "succeeded")
    client.wait(failed, "failed")
    client.wait(scheduled, "succeeded")
    client.post(f"/jobs/{scheduled}/reprocess", 202, json={"delay": 3600})
    return [succeeded, failed, scheduled, canceled, never_uploaded, uploaded["id"]]
