"""The API as Python calls: submit a PDF (directly or through a presigned upload), read a
job, wait for jobs, fetch a result, cancel.

    from client import Client
    pdfq = Client.from_environment()          # PDFQ_URL, PDFQ_TOKEN
    job = pdfq.submit(Path("report.pdf"), wait=True)
    text = pdfq.result(job["id"]).decode()
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import BinaryIO

from client import connection, follow, transport
from client.connection import Connection
from client.payloads import FileBody, FormBody
from client.transport import Response, Retries

# Files up to this size go in one POST /documents; larger ones straight to storage through
# a presigned PUT. 4 MiB stays under the 6 MB request limit of a serverless deployment
# (AWS Lambda) even with its base64 encoding, and a web process holds no large upload.
DIRECT_MAX_BYTES = 4 * 1024 * 1024
FORMATS = ("text", "json", "pages", "blocks", "markdown", "tables", "chunks", "figures")
# Options both upload paths take, as the API names them.
OPTIONS = ("pages", "password", "layout", "laparams", "max_pages", "callback_url")


class Client:
    def __init__(
        self,
        conn: Connection,
        retries: Retries | None = None,
        direct_max_bytes: int = DIRECT_MAX_BYTES,
        timeout: float = 60.0,
    ):
        self.conn = conn
        self.retries = retries or Retries()
        self.direct_max_bytes = direct_max_bytes
        self.timeout = timeout
        self._access_checked = False

    @classmethod
    def from_environment(cls, **kwargs) -> Client:
        return cls(connection.from_environment(), **kwargs)

    # --- requests to the API ---

    def _api(self, method: str, path: str, **kwargs) -> Response:
        headers = kwargs.pop("headers", {})
        if self.conn.token:
            headers["Authorization"] = f"Bearer {self.conn.token}"
        kwargs.setdefault("safe", method == "GET")
        return transport.send(
            method,
            self.conn.url(path),
            headers=headers,
            retries=self.retries,
            timeout=self.timeout,
            **kwargs,
        )

    def me(self) -> dict:
        return self._api("GET", "/me").json()

    def check_access(self):
        """GET /me once, before the first upload: a missing or wrong token is a 401 said
        first, not a broken pipe (the service answers 401 before reading a body, and closes
        the connection while the client is still sending the file)."""
        if not self._access_checked:
            self.me()
            self._access_checked = True

    def status(self, job_id: str) -> dict:
        return self._api("GET", f"/jobs/{job_id}").json()

    def cancel(self, job_id: str) -> dict:
        # Cancelling twice is harmless (the second answers 409 only once the job finished).
        return self._api("POST", f"/jobs/{job_id}/cancel", safe=True).json()

    def result(
        self, job_id: str, fmt: str = "text", sink: BinaryIO | None = None, link: bool = False
    ) -> bytes:
        """The result in `fmt` (text, json, pages); streamed into `sink` when given. With
        `link`, straight from storage through a presigned GET (GET .../result/link): the
        bytes skip the web process, which a serverless one needs past its 6 MB responses."""
        if not link:
            return self._api("GET", f"/jobs/{job_id}/result?format={fmt}", sink=sink).body
        if fmt == "json":
            # The stored result.json is the summary alone: `pages` is the pages file.
            raise ValueError(
                "--link takes --format text or pages: json comes whole only from /result."
            )
        signed = self._api("GET", f"/jobs/{job_id}/result/link?format={fmt}").json()
        # Storage gets no token: the URL itself is the permission.
        answer = transport.send(
            "GET",
            self.conn.link(signed["url"]),
            safe=True,
            retries=self.retries,
            sink=sink,
            timeout=self.timeout,
        )
        return answer.body

    # --- submitting ---

    def submit(
        self,
        path: Path,
        *,
        engine: str | None = None,
        options: dict | None = None,
        presigned: bool | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> dict:
        """Submit one PDF and return its job: directly when it is at most direct_max_bytes
        (or `presigned=False`), else through a presigned upload. `progress(sent, total)`
        follows the bytes of the upload."""
        size = path.stat().st_size
        presigned = self.presigns(path, engine, presigned)
        self.check_access()
        options = {k: v for k, v in (options or {}).items() if v is not None}
        if presigned:
            return self._presigned(path, size, engine, options, progress)
        return self._direct(path, engine, options, progress)

    def presigns(self, path: Path, engine: str | None, presigned: bool | None) -> bool:
        """Whether `submit` sends this file through a presigned upload."""
        if presigned is not None:
            return presigned
        return path.stat().st_size > self.direct_max_bytes

    def _direct(self, path, engine, options, progress) -> dict:
        fields = {
            name: json.dumps(value) if isinstance(value, dict | bool) else str(value)
            for name, value in options.items()
        }
        if engine:
            fields["engine"] = engine
        body = FormBody(path, path.name, fields)
        # The key makes a retry after a dropped connection return the same job.
        headers = {"Content-Type": body.content_type, "Idempotency-Key": uuid.uuid4().hex}
        counted = _counter(body.length, progress)
        answer = self._api(
            "POST", "/documents", body=body, headers=headers, safe=True, progress=counted
        )
        return answer.json()

    def _presigned(self, path, size, engine, options, progress) -> dict:
        request = {"filename": path.name, "content_type": "application/pdf", "size": size}
        if engine:
            request["engine"] = engine
        created = self._api(
            "POST",
            "/uploads",
            body=json.dumps({**request, **options}).encode(),
            headers={"Content-Type": "application/json"},
        ).json()
        put = created["upload"]["put"]
        # Storage gets no token: the URL itself is the permission.
        transport.send(
            "PUT",
            self.conn.link(put["url"]),
            body=FileBody(path),
            headers=dict(put["headers"]),
            safe=True,
            retries=self.retries,
            progress=_counter(size, progress),
            timeout=self.timeout,
        )
        complete = created["links"].get("complete") or f"/uploads/{created['id']}/complete"
        return self._api("POST", complete, safe=True).json()

    # --- batches ---

    def create_batch(self, sources: list, *, engine: str | None, options: dict) -> dict:
        """POST /batches: `sources` are URLs, {"bucket", "key"} or {"bucket", "prefix"}."""
        body = {"sources": sources, **{k: v for k, v in options.items() if v is not None}}
        if engine:
            body["engine"] = engine
        return self._api(
            "POST",
            "/batches",
            body=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
        ).json()

    def batch(self, batch_id: str) -> dict:
        return self._api("GET", f"/batches/{batch_id}").json()

    def batch_manifest(self, batch_id: str) -> list[dict]:
        text = self._api("GET", f"/batches/{batch_id}/manifest").body.decode()
        return [json.loads(line) for line in text.splitlines() if line]

    def wait_batch(
        self,
        batch_id: str,
        *,
        timeout: float | None = None,
        interval: float = 2.0,
        on_change: Callable[[dict], None] | None = None,
    ) -> dict:
        """Follow the batch until it has ended (its event stream; GET /batches/<id> every
        `interval` where there is none); TimeoutError after `timeout` seconds."""
        return follow.wait_batch(
            self, batch_id, timeout=timeout, interval=interval, on_change=on_change
        )

    def open_events(self, path: str, last_id: str | None, timeout: float | None = None):
        """The open answer of an event stream (`Last-Event-ID`: resume after that event)."""
        headers = {"Authorization": f"Bearer {self.conn.token}"} if self.conn.token else {}
        if last_id:
            headers["Last-Event-ID"] = last_id
        return transport.open_stream(
            self.conn.url(path), headers=headers, timeout=timeout or self.timeout
        )

    # --- following jobs ---

    def wait(
        self,
        job_ids: Iterable[str],
        *,
        timeout: float | None = None,
        interval: float = 1.0,
        on_change: Callable[[dict], None] | None = None,
    ) -> dict[str, dict]:
        """Follow the jobs until each has finished; {id: job}. Each is followed through its
        event stream (client/follow.py), or polled every `interval` where a stream cannot be
        had. Raises TimeoutError with the unfinished ones after `timeout` seconds.
        `on_change(job)` sees every new state."""
        return follow.wait_jobs(
            self, job_ids, timeout=timeout, interval=interval, on_change=on_change
        )


def _counter(total: int, progress: Callable[[int, int], None] | None):
    if progress is None:
        return None
    sent = 0

    def count(block: int):
        nonlocal sent
        sent += block
        progress(min(sent, total), total)

    progress(0, total)
    return count
