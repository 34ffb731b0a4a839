"""How many distinct pages a PDF's page tree holds, whatever it claims.

A page tree may list one node many times: ten times at each of six levels is a million
pages to PDFium, which follows every entry, and a handful of objects in a file of a few
hundred bytes. pdfminer.six visits each object once, but sees no page at all when the leaf
lacks its /Type, while PDFium takes any node without /Kids for a page. This walk counts what
a page is to PDFium (a node without /Kids) once per object, and stops counting past a
limit: a count is only what the file really holds, and never costs more than the limit.
"""

from __future__ import annotations

import os

from pdfminer.pdfdocument import PDFDocument
from pdfminer.pdfparser import PDFParser
from pdfminer.pdftypes import PDFObjRef

from engines import pdf_values

MAX_NODES = 1_000_000  # objects and entries the walk reads at most

# The last exact count, so one request walks a tree once (the sandbox child's size check,
# then the engine): (path, the file's identity, password) -> pages. A count, never the
# document; the child forgets it at the start of every request.
_known: dict[tuple, int | None] = {}


def forget():
    _known.clear()


def distinct_pages(
    path, password: str = "", limit: int | None = None, document: PDFDocument | None = None
) -> int | None:
    """The distinct page objects in the page tree of the PDF at `path`, counted up to
    `limit` + 1 (more means "over the limit"); None when pdfminer cannot read the file or
    finds no page in it (a broken cross-reference table that PDFium repairs: its count
    stands). `document`: the file already opened by pdfminer, not parsed again."""
    try:
        stat = os.stat(path)
    except OSError:
        return None
    key = (str(path), stat.st_ino, stat.st_size, stat.st_mtime_ns, password)
    if key in _known:
        return _known[key]
    try:
        if document is not None:
            found = count(document, limit) or None
        else:
            with open(path, "rb") as fp:
                found = count(PDFDocument(PDFParser(fp), password=password), limit) or None
    except MemoryError:
        raise
    except Exception:  # noqa: BLE001 - unreadable here: the engine's own count stands
        found = None
    if found is None or limit is None or found <= limit:  # exact: worth keeping
        _known.clear()
        _known[key] = found
    return found


def count(document: PDFDocument, limit: int | None = None) -> int:
    """Leaves (nodes without /Kids) reachable from the catalog's /Pages, each object once."""
    root = document.catalog.get("Pages")
    stack, seen, leaves, read = [root], set(), 0, 0
    while stack and (limit is None or leaves <= limit) and read < MAX_NODES:
        item = stack.pop()
        read += 1
        key = (item.objid, 0) if isinstance(item, PDFObjRef) else (id(item), 1)
        if key in seen:
            continue
        seen.add(key)
        node = pdf_values.resolved(item)
        if not isinstance(node, dict):
            continue
        kids = pdf_values.resolved(node.get("Kids"))
        if isinstance(kids, list):
            stack.extend(reversed(kids))
        else:
            leaves += 1
    return leaves
