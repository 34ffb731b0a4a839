"""Listing and deleting jobs across real processes: gunicorn, huey_consumer, redis-server,
moto's S3 server (the Procfile stack)."""

import pytest

from core import keys
from tests.support.corpus import GOOD
from tests.support.stack import Stack

pytestmark = pytest.mark.e2e
JOBS = "/api/v1/pdf/jobs"


@pytest.fixture(scope="module")
def stack(redis_server, moto_server, tmp_path_factory):
    # Page-parallel from 100 pages (the default), so the long job writes parts under parts/.
    stack = Stack(redis_server.url, moto_server, tmp_path_factory.mktemp("stack"))
    yield stack
    stack.stop()


def submitted(stack, path) -> str:
    status, job = stack.upload(path)
    assert status == 202, job
    return job["id"]


def listed(stack, query: str = "") -> list[str]:
    status, body, _ = stack.request("GET", f"{JOBS}?{query}")
    assert status == 200, body
    return [job["id"] for job in body["jobs"]]


def test_jobs_are_listed_newest_first_and_by_status_through_the_live_stack(stack):
    first = submitted(stack, GOOD / "pdfminer_jo.pdf")
    second = submitted(stack, GOOD / "pdfminer_dmca.pdf")
    stack.wait([first, second])
    assert listed(stack)[:2] == [second, first]
    assert set(listed(stack, "status=succeeded")) >= {first, second}
    status, page, _ = stack.request("GET", f"{JOBS}?limit=1")
    assert status == 200 and page["next_cursor"], page
    status, after, _ = stack.request("GET", page["links"]["next"])
    assert [job["id"] for job in after["jobs"]] == [first]


def test_a_running_job_is_deleted_through_the_live_stack_and_nothing_of_it_remains(stack):
    job_id = submitted(stack, GOOD / "pdfjs_freeculture.pdf")  # 352 pages, about 15 s
    stack.wait_until(job_id, lambda job: (job["pages_done"] or 0) >= 3, timeout=60)
    status, body, _ = stack.request("DELETE", f"{JOBS}/{job_id}")
    assert status == 204, (body, stack.logs())
    for path in ("", "/result", "/result/link"):
        status, body, _ = stack.request("GET", f"{JOBS}/{job_id}{path}")
        assert status == 410, body
        assert body["error"]["code"] == "deleted" and body["error"]["deleted_at"]
    storage = stack.storage()
    left = [key for key in storage.list_keys("") if job_id in key]
    assert sorted(key.split("/")[0] for key in left) == ["index", "jobs"], left
    assert keys.record_key("public", job_id) in left
    assert job_id not in listed(stack)
    assert listed(stack, "status=deleted") == [job_id]
    status, again, _ = stack.request("DELETE", f"{JOBS}/{job_id}")
    assert status == 410 and again["error"]["code"] == "deleted"
