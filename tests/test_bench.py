"""The benchmarks import and run one tiny case each, so they do not rot (`make bench` runs
them for real; they are not part of the test suite)."""

import json
import os
import subprocess
import sys
import time

import pytest

from bench import (
    cost,
    extraction,
    language_rows,
    peers,
    rows,
    small_docs,
    structure_rows,
    table_rows,
    viewer,
)
from bench.__main__ import ALL
from bench.harness import (
    HEADER,
    SERVICE_CPUS,
    WORKER_CPUS,
    Row,
    Servers,
    can_pin,
    corpus,
    percentile,
    salted,
    session,
)
from bench.latency import LatencyProxy
from infra import local_s3
from tests.support.corpus import GOOD
from tests.support.servers import ROOT

SMALL = GOOD / "pdfminer_jo.pdf"


def test_quick_mode_leaves_out_the_long_books():
    quick, full = corpus(full=False), corpus(full=True)
    assert len(full) == 57 and sum(n for _, n in full) == 1015
    assert all(n <= 60 for _, n in quick) and len(quick) == 55


def test_a_salted_copy_differs_in_bytes_but_not_in_text(tmp_path):
    from pdfminer.high_level import extract_text

    copy = salted(SMALL, tmp_path)
    assert copy.read_bytes() != SMALL.read_bytes()
    assert extract_text(copy) == extract_text(SMALL)


def test_extraction_rows_print_ratios_for_one_file():
    wall, results = extraction.pdfminer_pool([SMALL])
    raw = {"files": [(SMALL, 1)], "pages": 1, "wall": wall, "results": results}
    made = rows.worker_memory(raw) + rows.engines(raw)
    assert [row.name for row in made] == ["e. worker memory per file", "g. engines"]
    for row in made:
        assert row.ratio > 0
        assert row.line().count("|") == HEADER.splitlines()[0].count("|")


def test_the_outline_row_has_its_own_letter_and_runs_on_one_file(monkeypatch):
    assert ALL == "abcdefghijklmnopqrs" and len(set(ALL)) == len(ALL)
    monkeypatch.setattr(structure_rows, "OUTLINED", ["pdfminer_pagelabels.pdf"])
    [row] = structure_rows.outline_headings(full=False)
    assert row.name == "n. outline headings pdfminer_pagelabels.pdf"
    assert row.ratio > 0 and row.line().count("|") == HEADER.splitlines()[0].count("|")


def test_the_table_row_scores_the_generated_set_and_the_table_free_pages(monkeypatch, tmp_path):
    pytest.importorskip("pdfplumber")
    monkeypatch.setattr(table_rows.table_pdfs, "cache_folder", lambda: tmp_path)
    monkeypatch.setattr(table_rows, "TABLE_FREE", {"pdfminer_pagelabels.pdf": [1, 2]})
    real = table_rows.table_pdfs.build
    monkeypatch.setattr(table_rows.table_pdfs, "build", lambda folder: real(folder, count=4))
    ruled, unruled, false, cost_row = table_rows.rows(full=False)
    assert cost_row.ratio > 0 and cost_row.met is None
    assert ruled.name == "q. tables ruled cell accuracy" and ruled.met
    assert unruled.name == "q. tables unruled cell accuracy" and unruled.met
    assert false.figure == "0 of 2 table-free pages with a table" and false.met
    assert json.loads((tmp_path / "tables-00.json").read_text())["pages"][0]["tables"]


def test_the_language_row_checks_each_known_file(monkeypatch):
    pytest.importorskip("langdetect")
    known = {"pdfminer_jo.pdf": "ja", "pdfminer_pagelabels.pdf": "en"}
    monkeypatch.setattr(language_rows, "LANGUAGES", known)
    right, cost_row = language_rows.rows(full=False)
    assert right.figure == "2/2 files right" and right.met
    assert cost_row.ratio > 0 and cost_row.met is None
    monkeypatch.setattr(language_rows, "LANGUAGES", {"pdfminer_jo.pdf": "en"})
    [wrong, _] = language_rows.rows(full=False)
    assert not wrong.met and "pdfminer_jo.pdf: ja, not en" in wrong.figure


def test_percentiles_pick_from_the_samples():
    assert percentile([3, 1, 2], 0.5) == 2
    assert percentile(list(range(100)), 0.99) == 98
    assert Row("x", "1", "2", 0.5, "t", True).line().endswith("| met |")


def test_the_command_line_lists_its_options():
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--help"], cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode == 0 and "--full" in done.stdout


@pytest.mark.integration
def test_the_latency_proxy_delays_and_counts_each_request(moto_server):
    from urllib.parse import urlsplit

    import boto3

    proxy = LatencyProxy(urlsplit(moto_server).port, delay=0.05)
    try:
        s3 = boto3.client(
            "s3",
            endpoint_url=proxy.url,
            region_name="us-east-1",
            aws_access_key_id=local_s3.FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=local_s3.FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        )
        s3.create_bucket(Bucket="pdfq-proxy-test")
        started = time.perf_counter()
        for index in range(4):
            s3.put_object(Bucket="pdfq-proxy-test", Key=f"k{index}", Body=b"x" * 200_000)
            assert s3.get_object(Bucket="pdfq-proxy-test", Key=f"k{index}")["Body"].read()
        waited = time.perf_counter() - started
    finally:
        proxy.stop()
    # Each of the 8 requests waited its delay (a floor, never a ceiling: no wall-clock limit).
    assert waited >= 8 * 0.05
    assert proxy.counts() == {"PUT": 5, "GET": 4}


def test_one_page_documents_are_cut_from_the_corpus(tmp_path):
    import pypdfium2 as pdfium

    made = small_docs.make(tmp_path, 60)
    assert len(made) == len(set(made)) == 60
    for path in made[:5]:
        assert len(pdfium.PdfDocument(str(path))) == 1


def test_peers_report_speed_and_agreement_for_one_file():
    measured = peers.compare([SMALL], 1)
    assert measured["pdfminer.six"]["equal"] == 1.0
    assert set(measured) == {"pdfminer.six", *peers.PEERS}
    for name, result in measured.items():
        assert result is not None, f"{name} is not installed (.ci/run installs every peer)"
        assert result["pps"] > 0 and 0 <= result["similarity"] <= 1


@pytest.mark.e2e
def test_every_stack_row_runs_on_a_tiny_case(tmp_path):
    """Each row of `make bench` that drives the stack, on a case small enough for the suite:
    a row that crashes fails here, not after minutes of `make bench FULL=1`."""
    servers = Servers(latency=0.005)
    try:
        small = rows.raw_small(3, tmp_path)
        raw = {"files": [(SMALL, 1), (GOOD / "pdfminer_dmca.pdf", 1)], "pages": 2, "wall": 1}
        made = []
        for slow in (False, True):
            stack = servers.stack(slow, TENANT_MAX_JOBS_IN_FLIGHT="0", LOG_LEVEL="warning")
            try:
                made += rows.throughput(stack, raw)
                made += rows.small_documents(stack, small)
                made += rows.large_document(stack, GOOD / "pdfminer_dmca.pdf")
                made += rows.dedup(stack, 1, names=("pdfminer_jo.pdf",))
                if not slow:
                    made += rows.queue_latency(stack, 3)
                    made += rows.web(stack, 0.5, upload_bytes=4 * 2**20)
                    made += viewer.first_page(stack, GOOD / "pdfminer_dmca.pdf")
            finally:
                stack.stop()
        made += rows.many_jobs(servers, 5, 50)
        made += rows.thread_workers(servers, small, 3)
        (tmp_path / "one-page").mkdir()
        files = small_docs.make(tmp_path / "one-page", 3)
        cpu, found = cost.cpu_rows(servers, files)
        made += cpu + cost.request_rows(found["pdfminer"]) + cost.floor_rows(servers, files, found)
    finally:
        servers.stop()
    names = [row.name for row in made]
    assert "a. pipeline throughput, local" in names
    assert "a. pipeline throughput, 5 ms storage" in names
    assert "i. storage requests per direct-upload job" in names
    assert "o. CPU per one-page job, pdfminer (shared cores)" in names
    assert "k. recovery pass, 50 jobs" in names
    assert all(row.ratio > 0 for row in made), [r.line() for r in made if r.ratio <= 0]
    for row in made:
        assert row.line().count("|") == HEADER.splitlines()[0].count("|")


@pytest.mark.e2e
@pytest.mark.skipif(not can_pin(), reason="the pinned mode needs two cores")
def test_the_pinned_mode_keeps_the_workers_and_the_services_on_their_own_cores(tmp_path):
    servers = Servers(latency=0.005, pinned=True)
    try:
        assert os.sched_getaffinity(0) == SERVICE_CPUS
        stack = servers.stack(False, LOG_LEVEL="warning")
        try:
            for name, cpus in (("web", SERVICE_CPUS), ("worker", WORKER_CPUS)):
                for pid in session(os.getsid(stack.procs[name].pid)):
                    assert os.sched_getaffinity(pid) == cpus, name
            assert stack.where == "local, pinned"
        finally:
            stack.stop()
    finally:
        servers.stop()
    assert len(os.sched_getaffinity(0)) == os.cpu_count()
