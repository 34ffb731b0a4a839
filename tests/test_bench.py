"""The benchmarks import and run one tiny case each, so they do not rot (`make bench` runs
them for real; they are not part of the test suite)."""

import subprocess
import sys

import pytest

from bench import extraction, rows
from bench.harness import HEADER, Row, corpus, percentile, salted
from tests.support.corpus import GOOD
from tests.support.servers import ROOT
from tests.support.stack import Stack

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


def test_percentiles_pick_from_the_samples():
    assert percentile([3, 1, 2], 0.5) == 2
    assert percentile(list(range(100)), 0.99) == 98
    assert Row("x", "1", "2", 0.5, "t", True).line().endswith("| met |")


def test_the_command_line_lists_its_options():
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--help"], cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode == 0 and "--full" in done.stdout


@pytest.mark.e2e
def test_the_queue_latency_probe_runs_against_a_real_stack(redis_url, moto_server, tmp_path):
    stack = Stack(redis_url, moto_server, tmp_path)
    try:
        made = rows.queue_latency(stack, 3)
    finally:
        stack.stop()
    assert [row.name for row in made] == ["c. queue latency p50", "c. queue latency p99"]
    assert all(row.ratio > 0 for row in made)
