"""Thread workers above their extraction slots, across real processes: every job ends, and a
page-parallel job whose parts wait for the one slot still finishes (no thread holds a slot
while it waits for another's part)."""

import pytest
from pdfminer.high_level import extract_text

from tests.support.corpus import GOOD
from tests.support.stack import Stack

pytestmark = pytest.mark.e2e


def test_four_threads_share_one_slot_and_every_job_succeeds(redis_url, moto_server, tmp_path):
    stack = Stack(
        redis_url,
        moto_server,
        tmp_path,
        HUEY_WORKER_TYPE="thread",
        HUEY_WORKERS="4",
        EXTRACT_SLOTS="1",
        PARALLEL_MIN_PAGES="10",
        PART_PAGES="3",
    )
    try:
        paths = [
            GOOD / "pdfminer_dmca.pdf",
            GOOD / "pdfminer_jo.pdf",
            GOOD / "pdfjs_tracemonkey.pdf",
        ]
        ids = []
        for path in paths:
            status, job = stack.upload(path)
            assert status == 202, job
            ids.append(job["id"])
        done = stack.wait(ids, timeout=300)
        for job_id, path in zip(ids, paths, strict=True):
            assert done[job_id]["status"] == "succeeded", done[job_id]
            _, text, _ = stack.request("GET", f"/api/v1/pdf/jobs/{job_id}/result")
            assert text == extract_text(path)
        # The 18-page document went in parts, so the part tasks met the slot too.
        assert "Executing consumer.tasks.extract_part" in stack.procs["worker"].log()
    finally:
        stack.stop()
