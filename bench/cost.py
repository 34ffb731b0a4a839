"""What a one-page job costs pdfq's own processes: CPU of the web and the worker (sandbox
children included), of the storage server, storage requests by verb and Redis commands,
per job, beside raw extraction of the same files in one warm process.

Measured the way a minimal pipeline on the same parts measures itself, so the two compare
(row o runs that floor pipeline beside pdfq when the machine has it): the Procfile stack, the
files uploaded by 4 clients at once with `POST /documents` (`ocr=off`), then each job's
status read once it is done; CPU read from /proc for each process group.

`python -m bench.cost DOCS_DIR [pdfminer|pdfium] [--pinned]` runs it alone;
PDFQ_COST_PROFILE=/tmp/prof also records py-spy's folded stacks of the web and the worker.
"""

from __future__ import annotations

import concurrent.futures as cf
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from bench.harness import WORKER_CPUS, Row
from tests.support.api import multipart
from tests.support.servers import ROOT

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


def redis_calls(client) -> dict[str, int]:
    """Commands the server ran so far, by name (INFO commandstats)."""
    return {name: v["calls"] for name, v in client.info("commandstats").items()}


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
                        "--gil",  # CPU: only the thread holding the GIL
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
    redis1 = redis_calls(redis_client)
    by_command = {
        name.removeprefix("cmdstat_"): round((calls - redis0.get(name, 0)) / n, 2)
        for name, calls in redis1.items()
        if calls > redis0.get(name, 0)
    }
    verbs = {}
    if proxy:
        now = proxy.counts()
        verbs = {v: (now.get(v, 0) - requests0.get(v, 0)) / n for v in now}
    return {
        "jobs": n,
        "failed": failed,
        "jobs_s": n / wall,
        "cpu_ms": {name: 1000 * (cpu1[name] - cpu0[name]) / n for name in sids},
        "redis": sum(by_command.values()),
        "redis_by_command": by_command,
        "requests": verbs,
    }


def per_job(servers, files: list[Path], engine: str) -> dict:
    """The figures of `files` through a fresh stack of `servers` with `engine`, and the warm
    extraction they are compared with (on the workers' core when pinned)."""
    stack = servers.stack(
        True, TENANT_MAX_JOBS_IN_FLIGHT="0", LOG_LEVEL="warning", QUEUE_MAX_PENDING="0"
    )
    try:
        figures = measure(stack, servers.redis.client, servers.proxy, servers.s3_sid, files, engine)
    finally:
        stack.stop()
    cpus = ",".join(map(str, sorted(WORKER_CPUS))) if servers.pinned else None
    warm = 1000 * warm_extraction(files, engine, cpus) / len(files)
    own = figures["cpu_ms"]["web"] + figures["cpu_ms"]["worker"]
    figures.update(warm_ms=warm, own_ms=own, overhead_ms=own - warm, ratio=own / warm)
    figures["dollars_per_1000"] = price(figures["requests"])
    return figures


def cpu_rows(servers, files: list[Path]) -> tuple[list[Row], dict]:
    """o: CPU per one-page job of pdfq's own processes against raw extraction of the same
    files in one warm process, with pdfminer.six and with PDFium; and the figures by engine."""
    found = {engine: per_job(servers, files, engine) for engine in ("pdfminer", "pdfium")}
    where = servers.mode
    miner, pdfium = found["pdfminer"], found["pdfium"]
    rows = [
        Row(
            f"o. CPU per one-page job, pdfminer ({where})",
            f"{miner['own_ms']:.0f} ms of web + worker ({_split(miner)}); {miner['jobs_s']:.1f} "
            f"jobs/s, {len(files)} jobs",
            f"raw pdfminer.six, one warm process: {miner['warm_ms']:.1f} ms a job",
            miner["ratio"],
            "<= 1.3",
            miner["ratio"] <= 1.3,
        ),
        Row(
            f"o. overhead per one-page job, pdfium ({where})",
            f"{pdfium['overhead_ms']:.1f} ms beyond extraction ({_split(pdfium)}); "
            f"{pdfium['jobs_s']:.1f} jobs/s",
            f"raw PDFium, one warm process: {pdfium['warm_ms']:.1f} ms a job; target 15 ms",
            pdfium["overhead_ms"] / 15,
            "< 15 ms",
            pdfium["overhead_ms"] < 15,
        ),
    ]
    return rows, found


def _split(figures: dict) -> str:
    cpu = figures["cpu_ms"]
    return f"web {cpu['web']:.1f}, worker {cpu['worker']:.1f}; storage server {cpu['storage']:.1f}"


def request_rows(figures: dict) -> list[Row]:
    """i: storage requests per direct-upload job by verb, what they cost at S3's list prices,
    and Redis commands per job (INFO commandstats), from a cost measurement's figures."""
    verbs = {verb: n for verb, n in figures["requests"].items() if n >= 0.005}
    total = sum(verbs.values())
    billed = sum(n for verb, n in verbs.items() if verb in ("PUT", "POST"))
    shape = ", ".join(f"{n:.2g} {verb}" for verb, n in sorted(verbs.items()))
    dollars = figures["dollars_per_1000"]
    return [
        Row(
            "i. storage requests per direct-upload job",
            f"{total:.2f} ({shape}); ${dollars:.4f} per 1,000 jobs at S3 list prices",
            "target: 6, of which 4 billed as PUT/POST/COPY/LIST",
            total / 6,
            "<= 6, <= 4 billed",
            total <= 6 and billed <= 4,
        ),
        Row(
            "i. Redis commands per job",
            f"{figures['redis']:.1f} commands (INFO commandstats), status polls included",
            "reported beside the requests (docs/scaling.md)",
            figures["redis"],
            "reported",
            None,
        ),
    ]


FLOOR = ROOT.parent / "shared" / "tools" / "floor.py"


def floor_rows(servers, files: list[Path], found: dict) -> list[Row]:
    """o: pdfq's overhead per job against the floor pipeline's on the same documents (the
    simplest honest pipeline on the same parts, when the machine has it beside the repo)."""
    if not FLOOR.exists():
        return []
    rows = []
    for engine, figures in found.items():
        done = subprocess.run(
            [
                sys.executable,
                str(FLOOR),
                str(Path(sys.executable).parents[1]),
                str(files[0].parent),
                engine,
            ],
            capture_output=True,
            text=True,
            timeout=1800,
        )
        if done.returncode != 0:
            continue
        floor = json.loads(done.stdout.strip().splitlines()[-1])
        overhead = floor["own_ms"] - floor["warm_ms"]
        ratio = figures["overhead_ms"] / overhead
        rows.append(
            Row(
                f"o. overhead against the floor pipeline, {engine} ({servers.mode})",
                f"pdfq {figures['overhead_ms']:.1f} ms a job beyond extraction",
                f"floor: {overhead:.1f} ms ({floor['jobs_s']:.1f} jobs/s)",
                ratio,
                "<= 1.5",
                ratio <= 1.5,
            )
        )
    return rows


def main(argv: list[str]) -> None:
    import argparse

    from bench.harness import Servers

    os.environ.setdefault("PDFQ_ENV_FILE", "")
    os.environ.setdefault("PDFQ_ENV", "development")
    parser = argparse.ArgumentParser(prog="python -m bench.cost")
    parser.add_argument("docs", type=Path)
    parser.add_argument("engine", nargs="?", default="pdfminer")
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--pinned", action="store_true")
    args = parser.parse_args(argv)
    files = sorted(args.docs.glob("*.pdf"))[: args.count]
    servers = Servers(0, pinned=args.pinned)
    try:
        figures = per_job(servers, files, args.engine)
    finally:
        servers.stop()
    print(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main(sys.argv[1:])
