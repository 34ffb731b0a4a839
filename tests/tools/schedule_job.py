"""Store a PDF and schedule its job for later, as reprocess-with-delay does.

python -m tests.tools.schedule_job FILE DELAY_SECONDS   (prints the job id)
"""

import sys
from pathlib import Path

from consumer.tasks import enqueue_job
from core import keys, services
from core.jobs import JobStatus, utc_after


def main(path: str, delay: str) -> str:
    store = services.jobs()
    job_id = keys.new_job_id()
    data = Path(path).read_bytes()
    store.storage.put_bytes(keys.source_key(keys.DEFAULT_TENANT, job_id), data)
    job = store.create(
        job_id=job_id, tenant=keys.DEFAULT_TENANT, filename=Path(path).name, size=len(data)
    )
    job = store.transition(job, JobStatus.SCHEDULED, scheduled_for=utc_after(float(delay)))
    enqueue_job(job, eta=job.scheduled_for)
    return job_id


if __name__ == "__main__":
    print(main(*sys.argv[1:]))
