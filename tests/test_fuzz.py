"""Mutation fuzzing over the corpus, through the real service: bit flips, truncations and
objects spliced in from other files, made by a seeded generator, uploaded to gunicorn and
extracted by huey_consumer. Every mutant must end terminal (succeeded, or failed with one of
the extraction error codes), the worker must survive, and no job may be left `processing`.

A few hundred mutants run with the e2e tests; `make fuzz` runs thousands
(PDFQ_FUZZ_MUTANTS, PDFQ_FUZZ_SEED). The counts go to stdout and docs/security.md.
"""

from __future__ import annotations

import collections
import os
import random
import re

import pytest

from core import keys
from tests.support.api import multipart
from tests.support.corpus import BAD, GOOD, NEEDS_SANDBOX
from tests.support.stack import Stack

pytestmark = pytest.mark.e2e

MUTANTS = int(os.environ.get("PDFQ_FUZZ_MUTANTS", "200"))
SEED = int(os.environ.get("PDFQ_FUZZ_SEED", "20261130"))
LARGEST_SOURCE = 120_000  # bytes: small files keep a mutant's extraction short
# How a mutant may end: extraction's own codes, the sandbox's limits, and the upload checks.
ERROR_CODES = {
    "corrupt",
    "unsupported",
    "encrypted",
    "timeout",
    "memory_limit",
    "engine_crashed",
    "too_large",
    "not_a_pdf",
    "empty_file",
}
_OBJECT = re.compile(rb"\d+ \d+ obj\b.*?endobj", re.S)


def sources() -> list[bytes]:
    files = sorted(p for p in [*GOOD.glob("*.pdf"), *BAD.glob("*.pdf")] if p.is_file())
    small = [
        p.read_bytes()
        for p in files
        if p.name not in NEEDS_SANDBOX and 1024 <= p.stat().st_size <= LARGEST_SOURCE
    ]
    return [data for data in small if data.startswith(b"%PDF-")]


def bit_flips(rng: random.Random, data: bytes, _: list[bytes]) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, 32)):
        spot = rng.randrange(8, len(out))  # past the header: a not-a-PDF teaches nothing new
        out[spot] ^= 1 << rng.randrange(8)
    return bytes(out)


def truncation(rng: random.Random, data: bytes, _: list[bytes]) -> bytes:
    return data[: rng.randrange(16, len(data))]


def spliced_object(rng: random.Random, data: bytes, others: list[bytes]) -> bytes:
    """An object of another file put in place of one of this file's (or inserted)."""
    donor = _OBJECT.findall(rng.choice(others)[:LARGEST_SOURCE]) or [b"1 0 obj\n<<>>\nendobj"]
    graft = rng.choice(donor)
    own = list(_OBJECT.finditer(data))
    if not own:
        spot = rng.randrange(16, len(data))
        return data[:spot] + graft + data[spot:]
    target = rng.choice(own)
    return data[: target.start()] + graft + data[target.end() :]


MUTATORS = (bit_flips, truncation, spliced_object)


def mutants(count: int, seed: int) -> list[tuple[str, bytes]]:
    """(name, bytes) of `count` mutants, the same ones for the same seed."""
    rng = random.Random(seed)  # noqa: S311 - reproducible mutants, not secrets
    corpus = sources()
    made = []
    for number in range(count):
        mutate = MUTATORS[number % len(MUTATORS)]
        made.append((f"{mutate.__name__}-{number}.pdf", mutate(rng, rng.choice(corpus), corpus)))
    return made


def test_mutants_are_the_same_for_the_same_seed():
    assert mutants(6, 1) == mutants(6, 1)
    assert mutants(6, 1) != mutants(6, 2)
    assert all(data.startswith(b"%PDF") for _, data in mutants(30, 3))


@pytest.fixture(scope="module")
def stack(redis_server, moto_server, tmp_path_factory):
    stack = Stack(
        redis_server.url,
        moto_server,
        tmp_path_factory.mktemp("fuzz"),
        EXTRACT_TIMEOUT_SECONDS="20",
        EXTRACT_MEMORY_MB="600",
        TENANT_MAX_JOBS_IN_FLIGHT="0",
        QUEUE_MAX_PENDING="0",
        DEDUP_ENABLED="false",
    )
    yield stack
    stack.stop()


def test_every_mutant_ends_terminal_with_an_error_code_or_succeeds(stack):
    worker = stack.procs["worker"].pid
    outcomes: collections.Counter[str] = collections.Counter()
    ids: dict[str, str] = {}
    for name, data in mutants(MUTANTS, SEED):
        body, content_type = multipart(data, name)
        status, job, _ = stack.request("POST", "/api/v1/pdf/documents", body, content_type)
        if status == 202:
            ids[job["id"]] = name
        else:  # refused at upload: a truncation that left no PDF behind
            assert status in (400, 415), (name, status, job)
            assert job["error"]["code"] in ERROR_CODES, (name, job)
            outcomes["refused " + job["error"]["code"]] += 1
    jobs = stack.wait(list(ids), timeout=60 + 3 * MUTANTS)
    for job_id, job in jobs.items():
        if job["status"] == "succeeded":
            outcomes["succeeded"] += 1
        else:
            assert job["status"] == "failed", (ids[job_id], job)
            assert job["error"]["code"] in ERROR_CODES, (ids[job_id], job)
            outcomes["failed " + job["error"]["code"]] += 1
    print(f"\nfuzz: {MUTANTS} mutants, seed {SEED}: {dict(sorted(outcomes.items()))}")
    assert sum(outcomes.values()) == MUTANTS
    # The worker survived every mutant: the same process, still taking work.
    assert stack.procs["worker"].alive() and stack.procs["worker"].pid == worker, stack.logs()
    assert stack.state().members(keys.open_key("public")) == []  # no job is left open
    _, queue, _ = stack.request("GET", "/api/v1/pdf/queue/status")
    assert queue["jobs"]["processing"] == 0 and queue["pending"] == 0
    status, job = stack.upload(GOOD / "pdfminer_jo.pdf")
    assert stack.wait([job["id"]])[job["id"]]["status"] == "succeeded"
