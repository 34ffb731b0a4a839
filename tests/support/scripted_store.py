"""A scripted S3 endpoint: a real HTTP server on a free port that keeps every request it is
sent, exactly as it arrived, and answers each with the next answer of its script (an S3
error, a dropped connection) or, when the script is done, with an empty 200."""

from __future__ import annotations

import contextlib
import dataclasses
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

DROP = "drop"  # close the connection without answering


@dataclasses.dataclass
class Received:
    method: str
    path: str  # as sent: the query string included, percent-encoding kept
    headers: list[tuple[str, str]]
    body: bytes
    port: int  # the client's: one per connection

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)


def error(status: int, code: str, message: str = "", **headers: str) -> tuple:
    """An S3 error answer with its XML body (no body for HEAD, as S3 does)."""
    body = f"<Error><Code>{code}</Code><Message>{message}</Message></Error>".encode()
    return status, {"Content-Type": "application/xml", **headers}, body


class ScriptedStore:
    def __init__(self):
        self.received: list[Received] = []
        self.script: list = []
        store = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as S3 does

            def handle_one_request(self):
                self.raw_requestline = self.rfile.readline(65537)
                if not self.raw_requestline or not self.parse_request():
                    self.close_connection = True
                    return
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                store.received.append(
                    Received(
                        self.command,
                        self.path,
                        list(self.headers.items()),
                        body,
                        self.client_address[1],
                    )
                )
                answer = store.script.pop(0) if store.script else (200, {"ETag": '"e"'}, b"")
                if answer == DROP:
                    self.close_connection = True
                    return
                status, headers, data = answer
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)
                self.wfile.flush()

            def handle(self):
                with contextlib.suppress(ConnectionError):  # a client that hung up
                    super().handle()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        self.server.serve_forever(poll_interval=0.05)  # stop() waits up to one poll

    def answer(self, *answers):
        """Answer the next requests with these, in order: (status, headers, body), or DROP."""
        self.script += answers

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
