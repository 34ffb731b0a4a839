"""Fair turns (core/adapters/fairqueue.py) on a real Redis: a job waits for at most one job of
each other tenant with jobs waiting, tenants alternate, a lost turn is added back, and the
job's own task (its id, its revocation) is what runs."""

import io

import pytest

from core.adapters.queue import EXTRACT_DOCUMENT, MAKE_BATCH_JOBS
from functions.documents import submit
from tests.conftest import started
from tests.support.corpus import GOOD

pytestmark = pytest.mark.integration
PDF = (GOOD / "pdfminer_jo.pdf").read_bytes()


@pytest.fixture
def queued(s3, redis_url, monkeypatch):
    """Services on the private Redis, queue not immediate: nothing runs until a test says."""
    monkeypatch.setenv("HUEY_IMMEDIATE", "false")
    monkeypatch.setenv("HUEY_REDIS_URL", redis_url)
    return started()


def put(runtime, tenant: str, n: int) -> list[str]:
    """`n` task ids of `tenant` on the queue, as the lifecycle puts a job's."""
    ids = []
    for i in range(n):
        task = runtime.queue.task(EXTRACT_DOCUMENT, f"sources/{tenant}/{i}.pdf")
        runtime.queue.enqueue_job(tenant, task)
        ids.append(task.id)
    return ids


def taken(runtime, n: int) -> list[str]:
    return [runtime.queue.next_job().args[0].split("/")[1] for _ in range(n)]


def test_one_tenant_s_job_waits_for_one_turn_of_a_tenant_with_many(queued):
    put(queued, "a", 200)
    put(queued, "b", 1)
    assert queued.queue.pending() == 201  # a turn for each job: the depth means what it did
    assert taken(queued, 3) == ["a", "b", "a"]
    assert queued.queue.waiting_by_tenant() == {"a": 198}


def test_tenants_with_batches_take_turns(queued):
    put(queued, "a", 50)
    put(queued, "b", 50)
    put(queued, "c", 2)
    order = taken(queued, 12)
    assert order[:6] == ["a", "b", "c", "a", "b", "c"]
    assert order[6:] == ["a", "b"] * 3
    assert queued.queue.next_job() is not None and queued.queue.waiting_by_tenant()["a"] == 44


def test_the_task_taken_is_the_job_s_own_and_recovery_sees_it_waiting(queued):
    [task_id] = put(queued, "a", 1)
    assert task_id in queued.queue.task_ids()
    assert queued.queue.next_job().id == task_id
    assert queued.queue.next_job() is None  # a turn too many finds nothing


def test_a_lost_turn_is_added_back_and_no_more(queued):
    put(queued, "a", 3)
    queued.huey.dequeue()  # a worker took a turn and died before taking a job
    assert queued.queue.top_up() == 1
    assert queued.queue.top_up() == 0
    assert queued.queue.pending() == 3


def test_a_worker_s_turn_runs_the_next_tenant_s_job_to_its_end(queued):
    def upload(tenant):
        return submit(queued, io.BytesIO(PDF), filename="a.pdf", tenant=tenant, size=len(PDF))

    a_jobs = [upload("a") for _ in range(3)]
    b_job = upload("b")
    for _ in range(2):  # two turns, taken as a worker takes them
        queued.huey.execute(queued.huey.dequeue())
    statuses = [queued.records.get(j.id, j.tenant).status.value for j in (*a_jobs, b_job)]
    assert statuses == ["succeeded", "queued", "queued", "succeeded"]


def test_a_batch_s_bookkeeping_goes_ahead_of_every_turn(queued):
    put(queued, "a", 50)
    task_id = queued.queue.put_first(MAKE_BATCH_JOBS, "b", "0" * 32)
    assert queued.huey.dequeue().id == task_id
