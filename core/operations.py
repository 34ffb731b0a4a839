"""The operator's live view (GET /ops): the queue, jobs finished a minute over the last hour,
the jobs running now and the workers running them, failures by error code.

The history costs nothing per job: `metrics.FINISHED_KEY` is one more counter in the round
trip that already counts a job's move. Once a minute, the first process to look (the
worker's periodic task, or the web answering GET /ops) writes that minute's sample, the
counter and the queue's depth, with SET NX and a two-hour TTL (keys.ops_sample_key): 61
small keys at most. The jobs finished in a minute are the difference between two samples;
the current minute's are counted up to now, so the chart moves while jobs run.
"""

from __future__ import annotations

import json
import time

from core import keys, metrics
from core.jobs.model import JobStatus

HISTORY_MINUTES = 60
RUNNING_SHOWN = 50  # the running jobs listed, at most
TENANTS_LOOKED_AT = 200  # tenants with open jobs, at most, looked through for running ones


def minute_now() -> int:
    return int(time.time() // 60)


def sample(state, queue) -> dict:
    """This minute's sample, written unless a process already did (one SET NX)."""
    value = {"finished": metrics.finished(state), "depth": queue.pending()}
    state.set_if_absent(keys.ops_sample_key(minute_now()), json.dumps(value), keys.OPS_SAMPLE_TTL)
    return value


def history(state, now: dict) -> list[dict]:
    """One point a minute for the last hour, oldest first: {"minute" (ISO, its start),
    "finished" (jobs that ended in it), "depth" (the queue's depth as it began)}; None where
    no process sampled. `now` is the live sample: the current minute counts up to it."""
    current = minute_now()
    minutes = list(range(current - HISTORY_MINUTES, current + 1))
    found = state.get_many([keys.ops_sample_key(m) for m in minutes])
    samples = {m: json.loads(raw) for m in minutes if (raw := found[keys.ops_sample_key(m)])}
    points = []
    for minute in minutes[1:]:
        here = samples.get(minute)
        after = samples.get(minute + 1) if minute < current else now
        finished = None
        if here is not None and after is not None:
            finished = max(0, after["finished"] - here["finished"])
        points.append(
            {
                "minute": time.strftime("%Y-%m-%dT%H:%M:00Z", time.gmtime(minute * 60)),
                "finished": finished,
                "depth": now["depth"] if minute == current else (here or {}).get("depth"),
            }
        )
    return points


def running(live, inflight) -> list[dict]:
    """The jobs being extracted now (RUNNING_SHOWN at most): id, tenant, worker, progress."""
    found = []
    for tenant in live.open_tenants()[:TENANTS_LOOKED_AT]:
        ids = list(live.open_jobs(tenant, limit=RUNNING_SHOWN))
        for job in live.get_many(ids).values():
            if job is None or job.status is not JobStatus.PROCESSING:
                continue
            done, total = inflight.progress(job)
            found.append(
                {
                    "id": job.id,
                    "tenant": job.tenant,
                    "worker": job.worker,
                    "started_at": job.started_at,
                    "pages_done": done,
                    "pages_total": total,
                }
            )
            if len(found) >= RUNNING_SHOWN:
                return found
    return found


def workers(jobs: list[dict]) -> list[dict]:
    """The workers holding the running jobs, each with how many."""
    held: dict[str, int] = {}
    for job in jobs:
        held[job["worker"] or "unknown"] = held.get(job["worker"] or "unknown", 0) + 1
    return [{"name": name, "jobs": count} for name, count in sorted(held.items())]
