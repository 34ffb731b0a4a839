"""Server-Sent Events read from an open HTTP answer, one event at a time as it arrives.

The format of the HTML standard: `field: value` lines, an event ending at a blank line;
`id`, `event`, `data` (lines joined), `retry` (the reconnection delay, in ms) and comments
(`:`). An event cut off before its blank line (the connection closed midway) is dropped, as
a browser drops it: the client resumes from the last whole event's id.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class Event:
    id: str | None
    event: str
    data: str


class Reader:
    """The events of a stream's lines; `retry` is the last reconnection delay it asked (s)."""

    def __init__(self, lines: Iterable[bytes], retry: float = 1.0):
        self.lines = lines
        self.retry = retry

    def __iter__(self) -> Iterator[Event]:
        kind, data, ident = "message", [], None
        for raw in self.lines:
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            if not line:
                if data:
                    yield Event(ident, kind, "\n".join(data))
                kind, data = "message", []
                continue
            if line.startswith(":"):
                continue
            field, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if field == "data":
                data.append(value)
            elif field == "event":
                kind = value
            elif field == "id":
                ident = value
            elif field == "retry" and value.isdigit():
                self.retry = int(value) / 1000
