"""A presigned upload across real processes (gunicorn, huey_consumer, Redis, moto's S3 server):
after `complete`, a still-valid PUT URL cannot put other bytes in front of the worker."""

import pytest
import requests

from tests.support.corpus import GOOD
from tests.support.stack import Stack

pytestmark = pytest.mark.e2e
JO = GOOD / "pdfminer_jo.pdf"


@pytest.fixture(scope="module")
def stack(redis_server, moto_server, tmp_path_factory):
    stack = Stack(redis_server.url, moto_server, tmp_path_factory.mktemp("stack"))
    yield stack
    stack.stop()


def test_a_file_put_again_after_complete_is_never_extracted(stack):
    first = JO.read_bytes()
    # Other bytes of the very same length, so the signed Content-Length still holds.
    swapped = first.replace(b"%PDF-1.3", b"%PDF-1.4", 1)
    assert swapped != first and len(swapped) == len(first)
    status, job = stack.post_json(
        "/api/v1/pdf/uploads",
        {"filename": "jo.pdf", "content_type": "application/pdf", "size": len(first)},
    )
    assert status == 201, job
    put = job["upload"]["put"]
    assert requests.put(put["url"], data=first, headers=put["headers"], timeout=30).ok
    status, _, _ = stack.request("POST", job["links"]["complete"])
    assert status == 202
    assert stack.wait([job["id"]])[job["id"]]["status"] == "succeeded"

    assert requests.put(put["url"], data=swapped, headers=put["headers"], timeout=30).ok
    status, _ = stack.post_json(f"/api/v1/pdf/jobs/{job['id']}/reprocess", {})
    assert status == 202
    rerun = stack.wait([job["id"]])[job["id"]]  # the reprocess queued it before answering
    assert (rerun["status"], rerun["error"]["code"]) == ("failed", "source_missing")
    assert "replaced after its upload was completed" in rerun["error"]["message"]
