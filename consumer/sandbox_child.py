"""A warm sandbox child: serves the worker's extraction requests one after another.

Started by consumer/sandbox_pool.py as `python -c` with the socket to the worker, the
worker's pid and its memory limits. It asks to die with the worker, ignores the stop signals
(the worker decides its fate), imports the engines once (with pdfminer.six's per-character
code made cheaper: engines/pdfminer_fast.py), and then for each request: sets its
memory cap back to the extraction's, runs the engine, writes the pages to the request's
file, and answers. A whole document is counted first (distinct page objects) and refused
over MAX_PAGES before any page is read. Outputs are capped here, so no PDF can make the
worker large: metadata values are cut, a text over its limit fails `too_large`, and the
pages go through a file the worker reads one page at a time. A MemoryError ends the child
with MEMORY_EXIT: nothing of a request that ran out of memory is trusted to serve the next
one.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import os
import resource
import signal
import socket
import sys
from pathlib import Path

from consumer.sandbox_wire import Channel

_PR_SET_PDEATHSIG = 1
MEMORY_EXIT = 86  # the exit status of a child that ran out of memory
CRASH_EXIT = 87  # the exit status after a defect (not an engine's error) ended a request
# A document kept open for the next range of its job is closed after this long without one:
# a job's ranges follow each other within a second.
KEEP_OPEN_IDLE_SECONDS = 3.0


def main(argv: list[str]):
    fd, parent, soft, hard = (int(value) for value in argv)
    # Stop signals are for the worker, which decides the child's fate (it kills it).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    _die_with(parent)
    if soft:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard or resource.RLIM_INFINITY))
    import consumer.sandbox_preload  # noqa: F401 - the engines, once per child
    from engines import pdfminer_engine, pdfminer_fast

    pdfminer_fast.install()  # the same text for less CPU; this child only

    # The engines' modules never die: frozen out of the collector, the collection after
    # each request walks only that request's objects (a millisecond, not a dozen).
    gc.collect()
    gc.freeze()

    channel = Channel(socket.socket(fileno=fd))
    while True:
        try:
            if pdfminer_engine.keeps_open() and not channel.waiting(KEEP_OPEN_IDLE_SECONDS):
                # No next range came: let the job's source go (an erased job's file, deleted
                # from the worker's disk, would stay allocated while this child held it).
                pdfminer_engine.forget()
            kind, request = channel.recv_blocking()
        except (EOFError, OSError):
            os._exit(0)  # the worker closed our socket: it is done with us
        _Request(channel, soft).answer(kind, request)


class _Request:
    def __init__(self, channel: Channel, soft: int):
        self.channel, self.soft = channel, soft

    def answer(self, kind: str, request: dict):
        from core.errors import PdfqError
        from engines import page_tree, pdfium_engine, pdfminer_engine

        page_tree.forget()  # nothing of an earlier request's document
        if kind != "extract" or not request.get("pages"):
            pdfminer_engine.forget()  # kept only from one range of a document to the next
        try:
            run = {"render": self.render, "extras": self.extras}.get(kind, self.run)
            answer = ["ok", run(**request)]
        except MemoryError:
            # No reporting from here: the traceback still holds the memory that ran out.
            os._exit(MEMORY_EXIT)
        except _Stopped:
            answer = ["stopped"]
        except PdfqError as error:
            answer = ["error", error.code, error.message]
        except Exception as error:  # noqa: BLE001 - a defect: this child serves no more
            print(f"pdfq sandbox: {type(error).__name__}: {error}", file=sys.stderr)
            os._exit(CRASH_EXIT)
        finally:
            pdfium_engine.forget()  # a count whose extraction did not follow
            self.lower_cap()
        gc.collect()
        self.channel.send(*answer)

    def lower_cap(self):
        """Back to the extraction's memory cap, after OCR raised it."""
        if self.soft:
            _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
            resource.setrlimit(resource.RLIMIT_AS, (self.soft, hard))

    def run(
        self, path, engine, password, pages_path, pages, options, count_first, caps, document=None
    ) -> dict:
        from core import engine_registry
        from core.errors import TooLarge
        from engines import pdfminer_engine
        from engines.base import wants_languages, wants_tables, write_pages

        module = engine_registry.load(engine)
        pages = tuple(pages) if pages else None
        if pages is None:  # the whole document: sized before any page is read
            self.count(module, path, password, options, caps, count_first, document)
        on_page = lambda done, total: self.channel.send("progress", done, total)  # noqa: E731
        mode = (options or {}).get("ocr", "off")
        run = {"password": password, "pages": pages, "on_page": on_page, "options": options}
        if mode == "all":  # the ocr engine
            run.update(on_ocr=self.ocr_starting, max_pages=caps["ocr_pages"])
        elif pages and module is pdfminer_engine:  # a range: the document may be kept open
            run["document"] = document
        result = module.extract(path, **run)
        if mode == "auto":
            ocr = engine_registry.load("ocr")
            result = ocr.fill_blank_pages(
                path,
                result,
                password=password,
                pages=pages,
                options=options,
                on_ocr=self.ocr_starting,
                on_step=lambda: self.channel.send("step"),
                max_pages=caps["ocr_pages"],
            )
        found = result.pages
        if wants_tables(options):
            from engines import tables

            found = tables.attach(path, password, found)
        if wants_languages(options):
            from engines import languages

            found = languages.attach(found)
        count, size = write_pages(found, Path(pages_path))
        if size > caps["text_bytes"]:
            raise TooLarge(
                f"The extracted text is {size} bytes, over the {caps['text_bytes']} byte limit "
                "(MAX_TEXT_BYTES); extract a piece with the pages or max_pages option."
            )
        metadata, cut = cap_metadata(result.metadata, caps)
        outline, cut_outline = cap_outline(result.outline, caps)
        return {
            "page_count": count,
            "metadata": metadata,
            "encrypted": result.encrypted,
            "seconds": result.seconds,
            "warnings": result.warnings + (["metadata_truncated"] if cut or cut_outline else []),
            "outline": outline,
        }

    def render(self, path, out, page, width, password) -> dict:
        """One page as a PNG at `out` (engines/page_image.py), for the page viewer."""
        from engines.page_image import render_png

        wide, high, points_wide, points_high = render_png(
            path, out, page=page, width=width, password=password
        )
        return {"width": wide, "height": high, "points": [points_wide, points_high]}

    def extras(self, **request) -> dict:
        """Tables and figures of a document's pages, without its text (engines/extras.py)."""
        from engines import extras

        on_page = lambda done, total: self.channel.send("progress", done, total)  # noqa: E731
        return extras.run(**request, on_page=on_page)

    def count(self, module, path, password, options, caps, count_first, document):
        """Count the pages, refuse a document over the page limits (too_many_pages) and tell
        the worker (which may stop us here, to extract in parts instead). A named document
        that pdfminer.six counts stays open, its page tree walked, for the first range the
        worker sends next: it is the split's, or closed if the worker goes on in one piece.

        Counts are of distinct page objects: pdfminer.six reads each once, and PDFium's count
        stops at the distinct ones (engines/page_tree.py). Where the engine finds no page,
        `ocr=auto` reads the document as PDFium counts it: that count is the one limited."""
        from core.errors import PdfqError, TooManyPages
        from engines import ocr_engine, pdfium_engine, pdfminer_engine
        from engines.base import PageSelection

        limit = caps["pages"]
        kept = module is pdfminer_engine and count_first and document
        if module is pdfium_engine:  # the document stays open for the extraction
            found = pdfium_engine.page_count(path, password, keep=True)
        elif kept:
            # Past the limit it is refused: no more of its pages are kept than that.
            found = pdfminer_engine.page_count(path, password, document=document, most=limit)
        else:
            found = module.page_count(path, password)
        if not found and (options or {}).get("ocr") == "auto":
            with contextlib.suppress(PdfqError):
                found = pdfium_engine.page_count(path, password)
        if found > limit:
            raise TooManyPages(
                f"The PDF has more than {limit} pages, the limit of one job (MAX_PAGES); "
                "split it into smaller PDFs, or raise MAX_PAGES."
            )
        if (options or {}).get("ocr") == "all" and caps["ocr_pages"]:
            wanted = PageSelection.of(options, None).total(found) or 0
            if wanted > caps["ocr_pages"]:
                raise TooManyPages(ocr_engine.over_limit(wanted, caps["ocr_pages"]))
        self.channel.send("count", found)
        if count_first and not self.channel.recv_blocking()[1]:
            raise _Stopped()
        if kept:  # in one piece: the extraction parses the document its own way
            pdfminer_engine.forget()

    def ocr_starting(self, pages: int):
        """Before OCR of `pages` pages: the worker extends its deadline, and the cap goes up
        to OCR's (the hard limit set at start), until the request ends."""
        self.channel.send("ocr", pages)
        _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        resource.setrlimit(resource.RLIMIT_AS, (hard, hard))


class _Stopped(Exception):
    """The worker declined the document after its count (it extracts it in parts)."""


def cap_metadata(metadata: dict[str, str], caps: dict) -> tuple[dict[str, str], bool]:
    """(metadata within the caps, whether anything was cut): each value cut to its limit, and
    fields left out once all of them together would pass theirs."""
    kept: dict[str, str] = {}
    room, cut = caps["metadata_chars"], False
    for name, value in metadata.items():
        if len(value) > caps["metadata_value_chars"]:
            value, cut = value[: caps["metadata_value_chars"]], True
        if len(value) > room:
            cut = True
            continue
        kept[name] = value
        room -= len(value)
    return kept, cut


def cap_outline(outline: list[dict], caps: dict) -> tuple[list[dict], bool]:
    """(the outline within the caps, whether anything was cut): each title cut like a
    metadata value. The number of entries is bounded where the outline is read."""
    limit, cut = caps["metadata_value_chars"], False
    kept = []
    for entry in outline:
        if len(entry["title"]) > limit:
            entry, cut = {**entry, "title": entry["title"][:limit]}, True
        kept.append(entry)
    return kept, cut


def _die_with(parent: int):
    """Ask the kernel for SIGKILL when the worker dies, then check it had not already."""
    with contextlib.suppress(OSError, AttributeError):  # not Linux: the worker's kill still applies
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:
        os._exit(0)
