"""Deliveries on the real worker (huey_consumer, 2 workers, Redis): however slow the
receivers, at most WEBHOOK_MAX_CONCURRENT deliveries hold a worker, and extraction goes on."""

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.support.api import multipart
from tests.support.corpus import GOOD
from tests.support.stack import Stack

pytestmark = pytest.mark.e2e
HOLD_SECONDS = 10  # how long the receiver keeps each delivery waiting (under WEBHOOK_TIMEOUT)


class SlowReceiver:
    """Answers 204 to each POST after HOLD_SECONDS; counts the requests it holds at once."""

    def __init__(self):
        self.active = self.most = self.answered = 0
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers["Content-Length"]))
                with receiver.lock:
                    receiver.active += 1
                    receiver.most = max(receiver.most, receiver.active)
                time.sleep(HOLD_SECONDS)
                with receiver.lock:
                    receiver.active -= 1
                    receiver.answered += 1
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def stack(redis_server, moto_server, tmp_path_factory):
    stack = Stack(
        redis_server.url,
        moto_server,
        tmp_path_factory.mktemp("stack"),
        HUEY_WORKERS="2",
        WEBHOOK_SECRET="an-e2e-webhook-secret-value",
        WEBHOOK_ALLOW_PRIVATE="true",
        WEBHOOK_TIMEOUT="30",
        WEBHOOK_MAX_CONCURRENT="1",
    )
    yield stack
    stack.stop()


def submit(stack, **fields) -> str:
    path = GOOD / "pdfminer_jo.pdf"
    body, kind = multipart(path.read_bytes(), path.name, fields=fields)
    status, job, _ = stack.request("POST", "/api/v1/pdf/documents", body, kind)
    assert status == 202, job
    return job["id"]


def test_slow_receivers_hold_one_worker_at_most_and_extraction_goes_on(stack):
    receiver = SlowReceiver()
    try:
        called_back = [submit(stack, callback_url=receiver.url) for _ in range(2)]
        deadline = time.monotonic() + 60
        while receiver.active == 0 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert receiver.active == 1, stack.logs()
        # One worker is held by a delivery, the other delivery waits: a new job still runs.
        plain = submit(stack)
        assert stack.wait([plain])[plain]["status"] == "succeeded"
        assert receiver.answered < 2  # it finished while the deliveries were still going on
        for job_id in called_back:
            job = stack.wait_until(job_id, lambda j: j["deliveries"], timeout=120)
            assert [d["ok"] for d in job["deliveries"]] == [True]
        assert receiver.most == 1
    finally:
        receiver.stop()
