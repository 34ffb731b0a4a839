"""p: CPU per storage request of pdfq's S3 client (core/adapters/s3http.py, through Storage)
against boto3 making the same requests, in the same run, on moto's S3 server in its own
process (whose CPU is not counted): what each request costs the web or worker process.

The requests are the ones a job makes: PUT and GET of a 2 KB object, HEAD, COPY, DELETE, and a
page of 50 keys from a listing. They alternate in blocks between the two clients, so both
see the same load. `python -m bench.storage_client [ROUNDS]` runs the row alone.
"""

from __future__ import annotations

import os
import sys
import time
import uuid

from bench.harness import Row
from core.adapters.storage import Storage
from core.settings import load_settings
from infra import local_s3
from tests.support.servers import free_port

BODY = b"x" * 2048
BLOCK = 10  # requests timed together: the clock's own cost disappears in them
TARGET_MS = 1.0  # per request: about 5 a job, within the pipeline's 15 ms of CPU


def requests(storage: Storage) -> dict[str, tuple]:
    """(pdfq's, boto3's) of each request, on keys `prepare` wrote."""
    client, bucket = storage.client, storage.bucket
    return {
        "PUT": (
            lambda: storage.put_bytes("b/put", BODY, "application/json"),
            lambda: client.put_object(
                Bucket=bucket, Key="b/put", Body=BODY, ContentType="application/json"
            )["ETag"],
        ),
        "GET": (
            lambda: storage.get_bytes("b/get"),
            lambda: client.get_object(Bucket=bucket, Key="b/get")["Body"].read(),
        ),
        "HEAD": (
            lambda: storage.head("b/get"),
            lambda: client.head_object(Bucket=bucket, Key="b/get"),
        ),
        "COPY": (
            lambda: storage.copy("b/get", "b/copy"),
            lambda: client.copy_object(
                Bucket=bucket, Key="b/copy", CopySource={"Bucket": bucket, "Key": "b/get"}
            ),
        ),
        "DELETE": (
            lambda: storage.delete("b/gone"),
            lambda: client.delete_object(Bucket=bucket, Key="b/gone"),
        ),
        "LIST": (
            lambda: storage.list_page("l/", limit=50),
            lambda: client.list_objects_v2(Bucket=bucket, Prefix="l/", MaxKeys=50).get("Contents"),
        ),
    }


def prepare(s3_url: str) -> Storage:
    for name, value in local_s3.FAKE_CREDENTIALS.items():
        os.environ.setdefault(name, value)  # the local server's, as the stack has them
    bucket = f"bench-client-{uuid.uuid4().hex[:8]}"
    storage = Storage(load_settings({"S3_ENDPOINT_URL": s3_url, "S3_BUCKET": bucket}))
    storage.configure("create the benchmark's bucket", "create_bucket")
    storage.put_bytes("b/get", BODY, "application/json")
    for n in range(60):
        storage.put_bytes(f"l/{n:03d}", b"")
    return storage


def measure(s3_url: str, rounds: int) -> dict[str, tuple[float, float]]:
    """{request: (pdfq's ms, boto3's ms)} of CPU per request, `rounds` blocks of each."""
    storage = prepare(s3_url)
    made = requests(storage)
    for ours, boto in made.values():  # warm: clients built, connections open
        for _ in range(3):
            ours(), boto()
    spent = {name: [0.0, 0.0] for name in made}
    for _ in range(rounds):
        for name, pair in made.items():
            for side, call in enumerate(pair):
                started = time.process_time()
                for _ in range(BLOCK):
                    call()
                spent[name][side] += time.process_time() - started
    calls = rounds * BLOCK
    return {
        name: (ours * 1000 / calls, boto * 1000 / calls) for name, (ours, boto) in spent.items()
    }


def rows(s3_url: str, rounds: int = 30) -> list[Row]:
    """p: one row, the mean over the six requests, each request's figures beside it."""
    measured = measure(s3_url, rounds)
    ours = sum(o for o, _ in measured.values()) / len(measured)
    boto = sum(b for _, b in measured.values()) / len(measured)
    each = ", ".join(f"{name} {o:.2f}" for name, (o, _) in measured.items())
    boto_each = ", ".join(f"{name} {b:.2f}" for name, (_, b) in measured.items())
    return [
        Row(
            "p. storage client CPU per request",
            f"{ours:.2f} ms ({each}), {rounds * BLOCK} of each",
            f"boto3: {boto:.2f} ms ({boto_each})",
            ours / boto,
            f"<= {TARGET_MS:g} ms, below boto3",
            ours <= TARGET_MS and ours < boto,
        )
    ]


def main(argv: list[str]) -> list[Row]:
    rounds = int(argv[0]) if argv else 30
    port = free_port()
    server = local_s3.start(port)
    try:
        made = rows(f"http://127.0.0.1:{port}", rounds)
    finally:
        server.terminate()
        server.wait(timeout=10)
    for row in made:
        print(row.line())
    return made


if __name__ == "__main__":
    main(sys.argv[1:])
