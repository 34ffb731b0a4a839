"""A TCP proxy in front of the local S3 server that delays every request by a fixed time, as
in-region S3 answers in 10-50 ms where the local server answers in one; it also counts the
requests it forwards (one HTTP request is one client write after the previous answer).

It runs its own asyncio loop in a thread of the benchmark's process.
"""

from __future__ import annotations

import asyncio
import collections
import threading

DEFAULT_DELAY = 0.020  # seconds; the bench's --latency-ms changes it


class LatencyProxy:
    def __init__(self, upstream_port: int, delay: float = DEFAULT_DELAY):
        self.upstream_port, self.delay = upstream_port, delay
        self.requests: collections.Counter[str] = collections.Counter()
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="latency-proxy", daemon=True)
        self._thread.start()
        self._ready.wait(10)
        self.url = f"http://127.0.0.1:{self.port}"

    def count(self) -> int:
        with self._lock:
            return sum(self.requests.values())

    def counts(self) -> dict[str, int]:
        with self._lock:
            return dict(self.requests)

    def stop(self):
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def _run(self):
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(
            asyncio.start_server(self._client, "127.0.0.1", 0, limit=2**20)
        )
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()
        # Stopped: close the listener and every open connection, then the loop itself.
        server.close()
        pending = asyncio.all_tasks(self._loop)
        for task in pending:
            task.cancel()
        self._loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        self._loop.run_until_complete(server.wait_closed())
        self._loop.close()

    async def _client(self, reader, writer):
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        except OSError:
            writer.close()
            return
        answered = asyncio.Event()
        answered.set()  # the first write of a connection starts a request

        async def to_upstream():
            while data := await reader.read(2**16):
                if answered.is_set():
                    # A new request: the delay a round trip to the store would add.
                    answered.clear()
                    self._count(data)
                    await asyncio.sleep(self.delay)
                up_writer.write(data)
                await up_writer.drain()
            up_writer.close()

        async def to_client():
            while data := await up_reader.read(2**16):
                if not data.startswith(b"HTTP/1.1 100 "):  # an interim answer ends nothing
                    answered.set()
                writer.write(data)
                await writer.drain()
            writer.close()

        try:
            await asyncio.gather(to_upstream(), to_client())
        except (ConnectionError, OSError, asyncio.CancelledError):
            pass
        finally:
            writer.close()
            up_writer.close()

    def _count(self, data: bytes):
        method = data.split(b" ", 1)[0].decode("ascii", "replace")
        with self._lock:
            self.requests[method] += 1
