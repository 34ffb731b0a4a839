"""Making a batch's jobs (core/jobs/batch_making.py) survives the death of the task making
them: recovery (consumer/recovery/batch_makers.py) queues it again once its lease is gone, it
starts at its cursor, every source ends with exactly one job, and the batch finishes."""

import json
import threading

import pytest

from consumer import recovery
from core import keys
from core.jobs import batch_making, batches
from tests.support.corpus import GOOD
from tests.support.origin import Origin

PDF = (GOOD / "pdfminer_jo.pdf").read_bytes()
COUNT = 7
pytestmark = pytest.mark.env(SOURCE_ALLOW_PRIVATE="true", RECONCILE_GRACE_SECONDS="0")


class Killed(BaseException):
    """The worker killed mid-task (SIGKILL): nothing after this point of the task runs."""


@pytest.fixture
def origin():
    server = Origin({f"/{n}.pdf": (200, {}, PDF) for n in range(COUNT)})
    yield server
    server.stop()


@pytest.fixture
def recorded(services, origin, monkeypatch):
    """A batch of COUNT URLs, recorded as the web records it, its making task not run yet."""
    sources = [{"url": origin.url(f"/{n}.pdf"), "filename": f"{n}.pdf"} for n in range(COUNT)]
    with monkeypatch.context() as patch:
        patch.setattr(services.queue, "put_first", lambda *args: None)
        return batches.create(
            services, "public", sources, options={}, engine=None, callback_url=None
        )


def dies_on_call(monkeypatch, target, name: str, call: int) -> list:
    """`target.name` raises Killed on its `call`th call (0: never); the list of the calls,
    None for the one killed."""
    real, calls, lock = getattr(target, name), [], threading.Lock()

    def counted(*args, **kwargs):
        with lock:
            calls.append(None)
            number = len(calls)
        if number == call:
            raise Killed
        calls[number - 1] = real(*args, **kwargs)
        return calls[number - 1]

    monkeypatch.setattr(target, name, counted)
    return calls


def lease_runs_out(services, batch_id: str):
    services.state.delete(keys.lease_key(batches.maker_lease(batch_id)))


def jobs_of(services, batch_id: str) -> list[str]:
    records = [key for key in services.storage.list_keys("jobs/public/")]
    ids = [key.rsplit("/", 1)[1].removesuffix(".json") for key in records]
    return [i for i in ids if services.records.get(i, "public").batch_id == batch_id]


def test_a_batch_whose_making_task_died_is_resumed_and_makes_each_job_once(
    services, recorded, monkeypatch
):
    monkeypatch.setattr(batch_making, "CHECK_EVERY", 2)
    with monkeypatch.context() as patch:
        patch.setattr(services.inflight, "release", lambda *args: None)
        calls = dies_on_call(patch, services.lifecycle, "create", 6)
        with pytest.raises(Killed):
            batch_making.make_jobs(services, "public", recorded.id)
    assert len([c for c in calls if c is not None]) == 5
    assert services.state.get(keys.batch_cursor_key(recorded.id)) == "4"
    assert batches.get(services, "public", recorded.id).status == "making"

    # While its lease lasts the task may be alive: recovery leaves it.
    assert recovery.reconcile(services).batches_resumed == 0
    lease_runs_out(services, recorded.id)
    created = dies_on_call(monkeypatch, services.lifecycle, "create", 0)
    assert recovery.reconcile(services).batches_resumed == 1

    # Resumed at the cursor: sources 4 to 6 tried, one of them made already (WriteConflict).
    assert len(created) == 3 and len([c for c in created if c is not None]) == 2
    batch = batches.get(services, "public", recorded.id)
    assert batch.status == "finished" and batch.made == COUNT
    assert batch.counts["succeeded"] == COUNT
    made = jobs_of(services, recorded.id)
    assert sorted(made) == sorted(batches.job_ids(batch))
    manifest = services.storage.get_bytes(batch.manifest).decode().splitlines()
    assert [json.loads(line)["status"] for line in manifest] == ["succeeded"] * COUNT
    assert services.state.members(keys.BATCHES_MAKING) == []
    assert recovery.reconcile(services).batches_resumed == 0


def test_a_job_whose_record_was_written_before_the_task_died_gets_its_state(
    services, recorded, monkeypatch
):
    """Killed between a job's record and its state: the resumed task finds the record
    (WriteConflict), writes the state the job would have had, and recovery runs the job."""
    recovery.reconcile(services)  # a state store with its data: no search of storage follows
    with monkeypatch.context() as patch:
        patch.setattr(services.inflight, "release", lambda *args: None)
        patch.setattr(services.lifecycle, "_enqueue", lambda job, eta=None: None)  # lost too
        dies_on_call(patch, services.records.live, "put", 3)
        patch.setattr(batch_making, "MAKERS", 1)
        with pytest.raises(Killed):
            batch_making.make_jobs(services, "public", recorded.id)
    half_made = keys.batch_job_id(recorded.id, 2)
    assert services.records.live.get(half_made) is None
    assert services.records.stored(half_made, "public").status.value == "queued"
    lease_runs_out(services, recorded.id)
    assert recovery.reconcile(services).batches_resumed == 1
    recovery.reconcile(services)  # the job the queue never had: queued, run
    batch = batches.get(services, "public", recorded.id)
    assert batch.status == "finished" and batch.counts["succeeded"] == COUNT
    assert sorted(jobs_of(services, recorded.id)) == sorted(batches.job_ids(batch))


def test_an_erased_batch_leaves_the_making_set(services, recorded):
    services.storage.delete(keys.batch_key("public", recorded.id))
    lease_runs_out(services, recorded.id)
    assert recovery.reconcile(services).batches_resumed == 0
    assert services.state.members(keys.BATCHES_MAKING) == []
