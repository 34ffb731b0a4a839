"""What a one-page job costs pdfq's own processes: CPU of the web and the worker (sandbox
children included), of the storage server, storage requests by verb and Redis commands,
per job, beside raw extraction of the same files in one warm process.

Measured as ../shared's floor pipeline measures itself, so the two compare: the Procfile
stack, the files uploaded by 4 clients at once with `POST /documents` (`ocr=off`), then
each job's status read once it is done; CPU read from /proc for each process group.

`python -m bench.cost DOCS_DIR [pdfminer|pdfium] [--pin]` runs it alone.
"""

from __future__ import annotations

import concurrent.futures as cf
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from tests.support.api import multipart

HZ = os.sysconf("SC_CLK_TCK")
# S3 list prices, dollars per 1,000 requests: PUT, POST, COPY and LIST cost this...
PRICE_WRITE = 0.005
PRICE_READ = 0.0004  # ... GET, HEAD and the rest this; DELETE is free.
CLIENTS = 4

WARM = {
    "pdfminer": (
        "import sys,time\nfrom pdfminer.high_level import extract_text\n"
        "t=time.process_time()\nfor f in sys.argv[1:]: extract_text(f)\n"
        "print(time.process_time()-t)"
    ),
    "pdfium": (
        "import sys,time,pypdfium2 as p\nt=time.process_time()\nfor f in sys.argv[1:]:\n"
        " d=p.PdfDocument(f);[d[i].get_textpage().get_text_range() for i in range(len(d))]\n"
        " d.close()\nprint(time.process_time()-t)"
    ),
}


def group_cpu(sid: int) -> float:
    """CPU seconds of every live process in session `sid` (reaped children included: a
    process's cutime/cstime hold the children it waited for)."""
    total = 0.0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as fp:
                stat = fp.read()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[3]) == sid:
            total += sum(int(x) for x in fields[11:15]) / HZ
    return total


def warm_extraction(files: list[Path], engine: str, cpus: str | None = None) -> float:
    """CPU seconds of extracting `files` in one warm process (on `cpus`, when pinned)."""
    command = [sys.executable, "-c", WARM[engine], *map(str, files)]
    if cpus:
        command = ["taskset", "-c", cpus, *command]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    return float(out.strip().splitlines()[-1])


def redis_calls(client) -> int:
    return sum(v["calls"] for v in client.info("commandstats").values())


def price(verbs: dict[str, float]) -> float:
    """Dollars per 1,000 jobs for `verbs` requests per job, at S3's list prices."""
    writes = sum(n for verb, n in verbs.items() if verb in ("PUT", "POST"))
    reads = sum(n for verb, n in verbs.items() if verb in ("GET", "HEAD"))
    return writes * PRICE_WRITE + reads * PRICE_READ


def measure(stack, redis_client, proxy, s3_sid: int, files: list[Path], engine: str) -> dict:
    """Per-job figures of `files` run through `stack` with `engine`."""
    sids = {name: os.getsid(proc.pid) for name, proc in stack.procs.items()}
    spies = []
    if os.environ.get("PDFQ_COST_PROFILE"):  # folded stacks of each process, for py-spy
        for name, proc in stack.procs.items():
            out = f"{os.environ['PDFQ_COST_PROFILE']}-{name}.txt"
            spies.append(
                subprocess.Popen(
                    [
                        "py-spy",
                        "record",
                        "--subprocesses",
                        "-r",
                        "200",
                        "-f",
                        "raw",
                        "-o",
                        out,
                        "-p",
                        str(proc.pid),
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
    sids["storage"] = s3_sid
    form = {"engine": engine, "ocr": "off"}
    payloads = [multipart(p.read_bytes(), p.name, fields=form) for p in files]
    time.sleep(1)  # the worker's start-up recovery pass and the web's first requests settle
    cpu0 = {name: group_cpu(sid) for name, sid in sids.items()}
    redis0, requests0 = redis_calls(redis_client), proxy.counts() if proxy else {}
    started = time.monotonic()

    def send(payload):
        status, job, _ = stack.request("POST", "/api/v1/pdf/documents", *payload)
        assert status == 202, job
        return job["id"]

    with cf.ThreadPoolExecutor(CLIENTS) as pool:
        ids = list(pool.map(send, payloads))
    failed = 0
    for job_id in ids:
        while (job := stack.job(job_id))["status"] not in ("succeeded", "failed"):
            time.sleep(0.2)
        failed += job["status"] != "succeeded"
    wall = time.monotonic() - started
    for spy in spies:
        spy.send_signal(2)
        spy.wait()
    time.sleep(0.5)  # the last cleanup writes after `succeeded`
    cpu1 = {name: group_cpu(sid) for name, sid in sids.items()}
    n = len(files)
    verbs = {}
    if proxy:
        now = proxy.counts()
        verbs = {v: (now.get(v, 0) - requests0.get(v, 0)) / n for v in now}
    return {
        "jobs": n,
        "failed": failed,
        "jobs_s": n / wall,
        "cpu_ms": {name: 1000 * (cpu1[name] - cpu0[name]) / n for name in sids},
        "redis": (redis_calls(redis_client) - redis0) / n,
        "requests": verbs,
    }


def main(argv: list[str]) -> None:
    import argparse

    os.environ.setdefault("PDFQ_ENV_FILE", "")
    os.environ.setdefault("PDFQ_ENV", "development")

    from bench.harness import Servers

    parser = argparse.ArgumentParser(prog="python -m bench.cost")
    parser.add_argument("docs", type=Path)
    parser.add_argument("engine", nargs="?", default="pdfminer")
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--workers", default="2")
    args = parser.parse_args(argv)
    files = sorted(args.docs.glob("*.pdf"))[: args.count]
    servers = Servers(0)
    try:
        stack = servers.stack(
            True,
            TENANT_MAX_JOBS_IN_FLIGHT="0",
            LOG_LEVEL="warning",
            HUEY_WORKERS=args.workers,
        )
        try:
            figures = measure(
                stack,
                servers.redis.client,
                servers.proxy,
                os.getsid(servers._s3.pid),
                files,
                args.engine,
            )
        finally:
            stack.stop()
    finally:
        servers.stop()
    warm = 1000 * warm_extraction(files, args.engine) / len(files)
    own = figures["cpu_ms"]["web"] + figures["cpu_ms"]["worker"]
    figures.update(warm_ms=warm, own_ms=own, overhead_ms=own - warm, ratio=own / warm)
    figures["dollars_per_1000"] = price(figures["requests"])
    print(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main(sys.argv[1:])
