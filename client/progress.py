"""What the command tells a person on stderr: upload progress, jobs changing state, retries.

On a terminal the upload line is redrawn in place; anywhere else (a log, a pipe) each event
is one line, so nothing fills a log with carriage returns.
"""

from __future__ import annotations

import sys
from typing import TextIO

MIB = 1024 * 1024


class Reporter:
    def __init__(self, stream: TextIO | None = None, quiet: bool = False):
        self.stream = stream or sys.stderr
        self.quiet = quiet
        self.live = self.stream.isatty()
        self._drawn = False

    def say(self, message: str):
        """A line that is shown even with --quiet (errors, retries, the summary)."""
        self._end_line()
        print(f"pdfq: {message}", file=self.stream, flush=True)

    def note(self, message: str):
        if not self.quiet:
            self.say(message)

    def uploader(self, name: str, route: str):
        """A progress(sent, total) callback for one file's upload."""
        last = [-1]

        def progress(sent: int, total: int):
            if self.quiet:
                return
            percent = 100 * sent // total if total else 100
            if self.live:
                if percent != last[0]:
                    text = f"{name} ({route}) {percent:3d}%  {sent / MIB:.1f}/{total / MIB:.1f} MiB"
                    self.stream.write("\r" + text)
                    self.stream.flush()
                    self._drawn = True
            elif sent == 0 and last[0] < 0:
                self.say(f"uploading {name} ({total / MIB:.1f} MiB, {route})")
            elif sent == total and last[0] != 100:
                self.say(f"uploaded {name}")
            last[0] = percent

        return progress

    def job(self, job: dict, name: str):
        """One job's new state while --wait follows it."""
        done, total = job.get("pages_done"), job.get("pages_total")
        pages = f" {done or 0}/{total} pages" if total else ""
        self.note(f"{job['id']} {name}: {job['status']}{pages}")

    def batch(self, batch: dict):
        """A batch's new state while --wait follows it."""
        eta = f", about {batch['eta_seconds']:.0f} s left" if batch.get("eta_seconds") else ""
        done = f"{batch['jobs_done']}/{batch['total']} jobs"
        self.note(f"batch {batch['id']}: {batch['status']}, {done}{eta}")

    def _end_line(self):
        if self._drawn:
            self.stream.write("\n")
            self._drawn = False
