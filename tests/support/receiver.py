"""A real webhook receiver: a threaded HTTP server on a free port that checks signatures."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from core import webhooks


class Receiver:
    """Answers 503 to the first `fail_first` POSTs, 204 after; keeps what it was sent."""

    def __init__(self, secret: str, fail_first: int = 0, host: str = "127.0.0.1", port: int = 0):
        self.secret, self.fail_first = secret, fail_first
        self.received: list[dict] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                header = self.headers.get(webhooks.SIGNATURE_HEADER, "")
                valid = webhooks.verify(receiver.secret, header, body, int(time.time()))
                receiver.received.append(
                    {
                        "body": json.loads(body),
                        "raw": body,
                        "valid": valid,
                        "signature": header,
                        "host": self.headers.get("Host"),
                    }
                )
                failing = len(receiver.received) <= receiver.fail_first
                self.send_response(503 if failing else 204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.port = self.server.server_port
        self.url = f"http://{host}:{self.port}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def wait_for(self, count: int, timeout: float = 30) -> list[dict]:
        deadline = time.monotonic() + timeout
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.received

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
