"""One function per row of `make bench`; each returns Rows with a ratio against a baseline
measured in the same run (docs/performance.md explains every figure)."""

from __future__ import annotations

import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

from bench import extraction, small_docs
from bench import many_jobs as bench_many_jobs
from bench import peers as bench_peers
from bench.harness import (
    LARGE,
    WORKER_CPUS,
    Row,
    corpus,
    parse_time,
    percentile,
    salted,
    terminal_count,
    wait_many,
    wait_terminal,
)
from infra import local_s3
from tests.support.corpus import GOOD
from tests.support.servers import ROOT, Proc, free_port


def raw_corpus(full: bool) -> dict:
    """Raw pdfminer over the corpus in 2 processes: a fresh one per file (each file's memory:
    row e; rows g and j), and 2 warm processes that take file after file (row a)."""
    files = corpus(full)
    paths = [p for p, _ in files]
    _, results = extraction.pdfminer_pool(paths)
    wall, _ = extraction.pdfminer_pool(paths, fresh=False)
    pages = sum(n for _, n in files)
    return {"files": files, "pages": pages, "wall": wall, "results": results}


def pinned_corpus(raw: dict) -> dict:
    """Row a's baseline for the pinned mode: the same, on the workers' core only."""
    wall, _ = extraction.pdfminer_pool([p for p, _ in raw["files"]], fresh=False, cpus=WORKER_CPUS)
    return {**raw, "wall": wall}


def throughput(stack, raw: dict) -> list[Row]:
    """a: pages/s from upload to succeeded over the corpus, against raw pdfminer x2."""
    with tempfile.TemporaryDirectory() as folder:
        copies = [(salted(p, Path(folder)), n) for p, n in raw["files"]]
        before = terminal_count(stack)
        started = time.time()
        ids = []
        for path, _ in copies:
            status, job = stack.upload(path)
            assert status == 202, job
            ids.append(job["id"])
        jobs = wait_many(stack, ids, before, timeout=1800)
    failed = [j for j in jobs.values() if j["status"] != "succeeded"]
    assert not failed, failed
    wall = max(parse_time(j["finished_at"]) for j in jobs.values()) - started
    pipeline_pps, raw_pps = raw["pages"] / wall, raw["pages"] / raw["wall"]
    ratio = pipeline_pps / raw_pps
    return [
        Row(
            f"a. pipeline throughput, {stack.where}",
            f"{pipeline_pps:.1f} pages/s ({raw['pages']} pages, {len(copies)} files, {wall:.1f} s)",
            f"raw extract_text, 2 warm processes: {raw_pps:.1f} pages/s ({raw['wall']:.1f} s)",
            ratio,
            ">= 0.9",
            ratio >= 0.9,
        )
    ]


def large_document(stack, path: Path = GOOD / LARGE) -> list[Row]:
    """b: the 352-page book from upload to succeeded (page-parallel), against one process."""
    raw = extraction.pdfminer_once(path)
    with tempfile.TemporaryDirectory() as folder:
        copy = salted(path, Path(folder))
        started = time.time()
        status, job = stack.upload(copy)
        assert status == 202, job
        # Polled slowly, timed by the record: fast polling would take CPU from the workers.
        done = wait_terminal(stack, [job["id"]], timeout=600, poll=0.5)[job["id"]]
        wall = parse_time(done["finished_at"]) - started
    assert done["status"] == "succeeded", done
    ratio = wall / raw
    return [
        Row(
            f"b. large document ({_pages(path)} pages), {stack.where}",
            f"{wall:.2f} s upload -> succeeded",
            f"raw extract_text, 1 process: {raw:.2f} s",
            ratio,
            "<= 0.6",
            ratio <= 0.6,
        )
    ]


def _pages(path: Path) -> int:
    import pypdfium2 as pdfium

    document = pdfium.PdfDocument(str(path))
    try:
        return len(document)
    finally:
        document.close()


def queue_latency(stack, samples: int) -> list[Row]:
    """c: enqueue -> processing start with idle workers, one tiny job at a time (the probe
    runs with the stack's settings and enqueues as the lifecycle does)."""
    probe = stack.run("bench.queue_probe", str(samples))
    assert probe.returncode == 0, probe.stderr
    delays = json.loads(probe.stdout.strip().splitlines()[-1])
    p50, p99 = percentile(delays, 0.5) * 1000, percentile(delays, 0.99) * 1000
    return [
        Row(
            "c. queue latency p50",
            f"{p50:.1f} ms enqueue -> processing ({samples} jobs)",
            "target 10 ms",
            p50 / 10,
            "<= 10 ms",
            p50 <= 10,
        ),
        Row(
            "c. queue latency p99",
            f"{p99:.1f} ms enqueue -> processing",
            "target 100 ms",
            p99 / 100,
            "<= 100 ms",
            p99 <= 100,
        ),
    ]


def _load(port: int, path: str, body: bytes, seconds: float, threads: int = 8) -> float:
    """Requests per second from `threads` keep-alive clients POSTing `body` for `seconds`."""
    count, stop = [0] * threads, time.monotonic() + seconds

    def client(index: int):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        headers = {"Content-Type": "application/json"}
        while time.monotonic() < stop:
            conn.request("POST", path, body, headers)
            response = conn.getresponse()
            response.read()
            assert response.status == 201, response.status
            count[index] += 1
        conn.close()

    workers = [threading.Thread(target=client, args=(i,)) for i in range(threads)]
    started = time.monotonic()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return sum(count) / (time.monotonic() - started)


def web(stack, seconds: float, upload_bytes: int = 200 * 2**20) -> list[Row]:
    """d: presign requests/s against a bare Flask endpoint under the same gunicorn settings;
    the peak RSS of a web worker while a 200 MB PDF is uploaded directly."""
    body = json.dumps(
        {"filename": "a.pdf", "content_type": "application/pdf", "size": 1000}
    ).encode()
    presign = _load(stack.port, "/api/v1/pdf/uploads", body, seconds)
    port = free_port()
    env = {**stack.env, "PORT": str(port)}
    bare = Proc(
        "bare-web",
        [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "bench.bare_app:create_app()"],
        env,
        stack.folder,
    )
    try:
        local_s3.wait_until_up(f"http://127.0.0.1:{port}/api/v1/pdf/health", process=bare.process)
        baseline = _load(port, "/api/v1/pdf/bare", body, seconds)
    finally:
        bare.stop()
    ratio = presign / baseline
    rows = [
        Row(
            "d. presign requests/s",
            f"{presign:.0f} req/s",
            f"bare Flask JSON endpoint: {baseline:.0f} req/s",
            ratio,
            ">= 0.3",
            ratio >= 0.3,
        )
    ]
    idle, peak = _upload_rss(stack, upload_bytes)
    rows.append(
        Row(
            f"d. web worker RSS, {upload_bytes // 2**20} MB upload",
            f"+{(peak - idle) / 1024:.1f} MB (peak {peak / 1024:.0f} MB)",
            f"idle worker: {idle / 1024:.0f} MB",
            (peak - idle) / 1024 / 50,
            "<= 50 MB above idle",
            peak - idle <= 50 * 1024,
        )
    )
    return rows


def _children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry))
    return found


def _rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _upload_rss(stack, size: int) -> tuple[int, int]:
    """(idle RSS, peak RSS) in KB of the web worker that takes a `size`-byte upload."""
    workers = _children(stack.procs["web"].pid)
    idle = {pid: _rss_kb(pid) for pid in workers}
    peak = dict(idle)
    stop = threading.Event()

    def watch():
        while not stop.is_set():
            for pid in workers:
                peak[pid] = max(peak[pid], _rss_kb(pid))
            time.sleep(0.005)

    boundary = uuid.uuid4().hex
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.pdf"\r\n'
        "Content-Type: application/pdf\r\n\r\n"
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    chunk = b"%PDF-1.4\n" + b"0" * (2**20 - 9)

    def body():
        yield head
        sent = 0
        while sent < size:
            yield chunk
            sent += len(chunk)
        yield tail

    length = len(head) + len(tail) + ((size + len(chunk) - 1) // len(chunk)) * len(chunk)
    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        conn = http.client.HTTPConnection("127.0.0.1", stack.port, timeout=300)
        conn.request(
            "POST",
            "/api/v1/pdf/documents",
            body(),
            {
                "Content-Type": f"multipart/form-data; boundary={boundary}",
                "Content-Length": str(length),
            },
        )
        response = conn.getresponse()
        answer = json.loads(response.read())
        conn.close()
        assert response.status == 202, answer
    finally:
        stop.set()
        watcher.join()
    # The worker fails the job (zeros are no PDF body); wait so it does not skew later rows.
    wait_terminal(stack, [answer["id"]], timeout=300, poll=0.2)
    busiest = max(workers, key=lambda pid: peak[pid] - idle[pid])
    return idle[busiest], peak[busiest]


def worker_memory(raw: dict) -> list[Row]:
    """e: peak RSS of the process extracting each file (a sandbox child does the same)."""
    peaks = {name: kb for name, _, kb in raw["results"]}
    worst = max(peaks, key=peaks.get)
    mb = peaks[worst] / 1024
    return [
        Row(
            "e. worker memory per file",
            f"max {mb:.0f} MB ({worst}); median {statistics.median(peaks.values()) / 1024:.0f} MB",
            f"{len(peaks)} files, a fresh process each",
            mb / 300,
            "<= 300 MB every file",
            mb <= 300,
        )
    ]


def dedup(stack, repeats: int, names=("pdfminer_dmca.pdf", LARGE)) -> list[Row]:
    """f: re-upload of an already processed PDF to succeeded, short and long documents."""
    rows = []
    for name in names:
        path = GOOD / name
        with tempfile.TemporaryDirectory() as folder:
            copy = salted(path, Path(folder))  # new bytes for this run: the first one extracts
            times = []
            for _ in range(repeats + 1):
                started = time.time()
                status, job = stack.upload(copy)
                assert status == 202, job
                done = wait_terminal(stack, [job["id"]], timeout=600, poll=0.25)[job["id"]]
                assert done["status"] == "succeeded", done
                times.append(parse_time(done["finished_at"]) - started)
        first, median = times[0], statistics.median(times[1:])
        rows.append(
            Row(
                f"f. dedup re-upload ({name.split('_', 1)[1].removesuffix('.pdf')}), {stack.where}",
                f"median {median:.3f} s to succeeded ({repeats} re-uploads)",
                f"first upload, extracted: {first:.2f} s",
                median / first,
                "median < 1 s",
                median < 1,
            )
        )
    return rows


def engines(raw: dict) -> list[Row]:
    """g: pdfium pages/s against pdfminer.six pages/s, one process each, same files."""
    files = [p for p, _ in raw["files"]]
    pdfium = extraction.pdfium_seconds(files)
    pdfminer = sum(seconds for _, seconds, _ in raw["results"])
    pps_pdfium, pps_pdfminer = raw["pages"] / pdfium, raw["pages"] / pdfminer
    return [
        Row(
            "g. engines",
            f"pdfium {pps_pdfium:.0f} pages/s",
            f"pdfminer.six {pps_pdfminer:.1f} pages/s (1 process)",
            pps_pdfium / pps_pdfminer,
            "faster (~30x expected)",
            pps_pdfium > pps_pdfminer,
        )
    ]


def raw_small(count: int, folder: Path, cpus: set[int] | None = None) -> dict:
    """Row h's files and its baseline: raw pdfminer over them in 2 warm processes (on `cpus`,
    the workers' core in the pinned mode)."""
    files = small_docs.make(folder, count)
    wall, _ = extraction.pdfminer_pool(files, fresh=False, cpus=cpus)
    return {"files": files, "wall": wall}


def small_documents(stack, small: dict) -> list[Row]:
    """h: one-page documents, upload to succeeded, jobs/s against raw pdfminer x2."""
    before = terminal_count(stack)
    started = time.time()
    ids = []
    for path in small["files"]:
        status, job = stack.upload(path)
        assert status == 202, job
        ids.append(job["id"])
    jobs = wait_many(stack, ids, before, timeout=1800)
    failed = [j for j in jobs.values() if j["status"] != "succeeded"]
    assert not failed, failed[:3]
    wall = max(parse_time(j["finished_at"]) for j in jobs.values()) - started
    count = len(small["files"])
    jps, raw_jps = count / wall, count / small["wall"]
    ratio = jps / raw_jps
    return [
        Row(
            f"h. one-page documents, {stack.where}",
            f"{jps:.1f} jobs/s ({count} files, {wall:.1f} s)",
            f"raw extract_text, 2 warm processes: {raw_jps:.1f} files/s ({small['wall']:.1f} s)",
            ratio,
            ">= 0.8",
            ratio >= 0.8,
        )
    ]


def thread_workers(servers, small: dict, threads: int) -> list[Row]:
    """l: row h with 20 ms storage, the Procfile's `threads` thread workers sharing 2 slots,
    against 2 process workers on the same files in the same run."""
    measured = {}
    for name, settings in (
        ("process", {"HUEY_WORKER_TYPE": "process", "HUEY_WORKERS": "2"}),
        ("thread", {"HUEY_WORKER_TYPE": "thread", "HUEY_WORKERS": str(threads)}),
    ):
        stack = servers.stack(True, TENANT_MAX_JOBS_IN_FLIGHT="0", LOG_LEVEL="warning", **settings)
        try:
            row = small_documents(stack, small)[0]
        finally:
            stack.stop()
        measured[name] = float(row.figure.split()[0])
    ratio = measured["thread"] / measured["process"]
    return [
        Row(
            f"l. one-page documents, {threads} thread workers, 2 slots",
            f"{measured['thread']:.1f} jobs/s with {servers.proxy.delay * 1000:.0f} ms storage",
            f"2 process workers: {measured['process']:.1f} jobs/s",
            ratio,
            "> 1 (faster)",
            ratio > 1,
        )
    ]


def peers(raw: dict) -> list[Row]:
    """j: other text extractors on the same files, one core each: pages/s per core and the
    agreement of their text with pdfminer.six's."""
    files = [p for p, _ in raw["files"]]
    measured = bench_peers.compare(files, raw["pages"])
    base = measured.pop("pdfminer.six")
    rows = []
    for name, result in measured.items():
        if result is None:
            rows.append(Row(f"j. peer: {name}", "not installed", "-", 0.0, "-", None))
            continue
        rows.append(
            Row(
                f"j. peer: {name}",
                f"{result['pps']:.0f} pages/s per core; text equal to pdfminer.six's in "
                f"{result['equal']:.0%} of files, word similarity {result['similarity']:.3f}",
                f"pdfminer.six {base['pps']:.1f} pages/s per core",
                result["pps"] / base["pps"],
                "speed ratio, reported",
                None,
            )
        )
    return rows


def many_jobs(servers, few: int, many: int) -> list[Row]:
    """k: storage requests per call with `many` finished jobs in the bucket, against `few`."""
    small, large = bench_many_jobs.measure(servers, few), bench_many_jobs.measure(servers, many)
    return [
        Row(
            f"k. {call}, {many:,} jobs",
            f"{large[call]} storage requests",
            f"{few:,} jobs: {small[call]} requests",
            large[call] / small[call] if small[call] else float(large[call] == 0),
            "same as with few jobs",
            large[call] <= small[call],
        )
        for call in small
    ]


def procfile_settings() -> str:
    """The worker line the stack runs, as the Procfile writes it."""
    return subprocess.run(
        ["grep", "^worker:", "Procfile"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
