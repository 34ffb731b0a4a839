"""Row c's probe, run with a stack's settings: enqueue tiny jobs one at a time and print,
as JSON, the seconds from each enqueue to the worker stamping the job `processing`."""

from __future__ import annotations

import datetime as dt
import json
import sys
import time

from consumer import tasks
from core import keys
from core.clock import parse_time
from core.jobs.model import JobStatus
from core.services import build
from core.settings import settings_or_exit
from tests.support.corpus import GOOD


def probe(samples: int) -> list[float]:
    runtime = build(settings_or_exit())
    tasks.register(runtime)
    records = runtime.records
    data = (GOOD / "pdfminer_jo.pdf").read_bytes()
    delays = []
    for index in range(samples):
        job_id = keys.new_job_id()
        runtime.storage.put_bytes(keys.source_key("public", job_id), data + b"%" + bytes(index))
        job = records.create(
            job_id=job_id,
            tenant="public",
            filename="jo.pdf",
            size=len(data),
            status=JobStatus.QUEUED,
        )
        time.sleep(0.05)  # the workers are idle, blocked on the queue
        enqueued = dt.datetime.now(dt.UTC)
        runtime.lifecycle.requeue(job)  # its task on the queue, as the lifecycle enqueues one
        deadline = time.monotonic() + 30
        while (job := records.get(job_id, "public")).status is JobStatus.QUEUED:
            if time.monotonic() > deadline:
                raise RuntimeError(f"job {job_id} never started")
            time.sleep(0.005)
        delays.append((parse_time(job.started_at) - enqueued).total_seconds())
        while not records.get(job_id, "public").status.terminal:
            time.sleep(0.01)
    return delays


if __name__ == "__main__":
    print(json.dumps(probe(int(sys.argv[1]))))
