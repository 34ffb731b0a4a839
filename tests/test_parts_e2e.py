"""Page-parallel extraction and result reuse across real processes: a long document's parts
are extracted by huey_consumer's workers and joined into the text of one pass; the same bytes
uploaded again reuse the first job's result."""

import time

import pytest
from pdfminer.high_level import extract_text

from core import keys
from tests.support import hostile
from tests.support.corpus import GOOD
from tests.support.stack import Stack

pytestmark = pytest.mark.e2e


@pytest.fixture
def stack(redis_url, moto_server, tmp_path):
    stack = Stack(redis_url, moto_server, tmp_path, PARALLEL_MIN_PAGES="10", PART_PAGES="3")
    yield stack
    stack.stop()


def record(stack, job_id):
    value, _ = stack.storage().get_json(keys.record_key("public", job_id))
    return value


def test_a_long_document_is_extracted_in_parts_equal_to_one_pass(stack):
    path = GOOD / "pdfminer_dmca.pdf"  # 18 pages: 6 parts of 3
    status, job = stack.upload(path)
    assert status == 202
    done = stack.wait([job["id"]])[job["id"]]
    assert done["status"] == "succeeded", done
    assert done["pages_done"] == done["pages_total"] == 18
    status, text, _ = stack.request("GET", f"/api/v1/pdf/jobs/{job['id']}/result")
    assert text == extract_text(path)
    assert "Executing consumer.tasks.extract_part" in stack.procs["worker"].log()


def test_a_reupload_of_the_same_bytes_reuses_the_result(stack):
    path = GOOD / "pdfjs_tracemonkey.pdf"
    ids = []
    for _ in range(2):
        status, job = stack.upload(path)
        assert status == 202
        ids.append(job["id"])
        assert stack.wait([job["id"]])[job["id"]]["status"] == "succeeded"
    first, second = (record(stack, job_id) for job_id in ids)
    assert "reused_from" not in first["result"]
    assert second["result"]["reused_from"] == ids[0]
    texts = [stack.request("GET", f"/api/v1/pdf/jobs/{i}/result")[1] for i in ids]
    assert texts[0] == texts[1] == extract_text(path)


@pytest.fixture
def slow_parts(redis_url, moto_server, tmp_path):
    stack = Stack(
        redis_url,
        moto_server,
        tmp_path,
        PARALLEL_MIN_PAGES="4",
        PART_PAGES="4",
        HUEY_WORKERS="3",
        PART_WINDOW="2",
    )
    yield stack
    stack.stop()


def test_a_delete_stops_the_ranges_other_workers_are_extracting(slow_parts, tmp_path):
    # 16 pages of about a second each, in 4 ranges: the job's own worker takes one, other
    # worker threads take the others. DELETE answers at once, and a range running on another
    # worker stops at its next tick instead of reading on after the 204.
    path = tmp_path / "slow.pdf"
    path.write_bytes(hostile.long_text(pages=16, lines=150, line_chars=60))
    status, job = slow_parts.upload(path)
    assert status == 202
    worker = slow_parts.procs["worker"]
    deadline = time.monotonic() + 60
    while "Executing consumer.tasks.extract_part" not in worker.log():
        assert time.monotonic() < deadline, slow_parts.logs()
        time.sleep(0.1)
    status, _, _ = slow_parts.request("DELETE", f"/api/v1/pdf/jobs/{job['id']}")
    assert status == 204
    deadline = time.monotonic() + 30
    while "stopped, the job was canceled" not in worker.log():
        assert time.monotonic() < deadline, slow_parts.logs()
        time.sleep(0.1)
    assert slow_parts.request("GET", f"/api/v1/pdf/jobs/{job['id']}")[0] == 410
    storage = slow_parts.storage()
    assert list(storage.list_keys(keys.parts_prefix("public", job["id"]))) == []
