"""Row o (bench/storage_client.py) runs one tiny round, so it does not rot: each request made
by both clients, one row with a ratio (`python -m bench.storage_client` measures for real)."""

import pytest

from bench import storage_client
from bench.harness import HEADER


@pytest.mark.integration
def test_the_storage_client_row_times_each_request_of_both_clients(moto_server):
    measured = storage_client.measure(moto_server, rounds=1)
    assert set(measured) == {"PUT", "GET", "HEAD", "COPY", "DELETE", "LIST"}
    assert all(ours > 0 and boto > 0 for ours, boto in measured.values())
    [row] = storage_client.rows(moto_server, rounds=1)
    assert row.name == "p. storage client CPU per request" and row.ratio > 0
    assert row.line().count("|") == HEADER.splitlines()[0].count("|")
