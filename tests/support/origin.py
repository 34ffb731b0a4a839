"""A web server that a job's source_url points at: a threaded HTTP server on a free port whose
answers a test scripts per path, and which keeps every request it was sent."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# An answer: (status, headers, body); or a callable that writes the answer itself.
Answer = tuple[int, dict, bytes] | Callable[[BaseHTTPRequestHandler], None]


class Origin:
    def __init__(
        self, routes: dict[str, Answer | list[Answer]], host: str = "127.0.0.1", port: int = 0
    ):
        """`routes`: path -> answer, or a list of answers given in turn (the last repeats)."""
        self.routes = routes
        self.requests: list[str] = []
        origin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                origin.requests.append(self.path)
                answer = origin.routes.get(self.path, (404, {}, b"not here"))
                if isinstance(answer, list):
                    served = origin.requests.count(self.path)
                    answer = answer[min(served, len(answer)) - 1]
                if callable(answer):
                    answer(self)
                    return
                status, headers, body = answer
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                if "Transfer-Encoding" not in headers:
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.port = self.server.server_port
        self.base = f"http://{host}:{self.port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, path: str) -> str:
        return self.base + path

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def chunked(body: bytes) -> Callable[[BaseHTTPRequestHandler], None]:
    """An answer sent with chunked transfer encoding: no Content-Length to judge it by."""

    def send(handler: BaseHTTPRequestHandler):
        handler.send_response(200)
        handler.send_header("Transfer-Encoding", "chunked")
        handler.end_headers()
        for start in range(0, len(body), 1000):
            piece = body[start : start + 1000]
            handler.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
        handler.wfile.write(b"0\r\n\r\n")

    return send


def dribbled(body: bytes, pause: float) -> Callable[[BaseHTTPRequestHandler], None]:
    """200 with a Content-Length, then the body one byte every `pause` seconds."""

    def send(handler: BaseHTTPRequestHandler):
        handler.send_response(200)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        try:
            for byte in body:
                handler.wfile.write(bytes([byte]))
                handler.wfile.flush()
                time.sleep(pause)
        except OSError:  # the fetcher hung up: what the test expects
            pass

    return send
