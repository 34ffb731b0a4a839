"""Values as pdfminer.six hands them over, made into what pdfq stores: the one place that
knows a name or a string may come as bytes, str, a PSLiteral, a reference or None.

pdfminer keeps whatever the file holds: a font name is a str, or bytes when it is not
UTF-8; a title is bytes in PDFDocEncoding or UTF-16 (with its byte-order mark), or a name
(/Foo) where the file put one; any of them may be an indirect reference or missing. Callers
get a str, or None where there is nothing to show; never an exception.
"""

from __future__ import annotations

from pdfminer.pdftypes import PDFObjRef
from pdfminer.psparser import PSLiteral
from pdfminer.utils import decode_text


def resolved(value, depth: int = 8):
    """`value` with references followed (a bounded number of hops: a reference may point at
    itself); None for one that leads nowhere."""
    for _ in range(depth):
        if not isinstance(value, PDFObjRef):
            return value
        try:
            value = value.resolve()
        except MemoryError:
            raise
        except Exception:  # noqa: BLE001 - a broken reference is a missing value
            return None
    return None


def text(value) -> str | None:
    """A text string (a title, an author, a date): decoded, stripped; None when empty or
    not text at all (a number, a dictionary)."""
    value = resolved(value)
    if isinstance(value, PSLiteral):
        value = value.name
    if isinstance(value, bytes):
        value = decode_text(value)
    if not isinstance(value, str):
        return None
    return value.strip() or None


def name(value) -> str | None:
    """A PDF name such as a font's BaseFont: as text (NUL bytes, which no PDF name holds but
    a name written in UTF-16 or UTF-32 does, left out; bytes that are not UTF-8 then read as
    Latin-1, so every byte shows), None when missing or not a name."""
    value = resolved(value)
    if isinstance(value, PSLiteral):
        value = value.name
    if isinstance(value, bytes):
        value = value.replace(b"\0", b"")
        try:
            value = value.decode("utf-8")
        except UnicodeDecodeError:
            value = value.decode("latin-1")
    if not isinstance(value, str):
        return None
    return value or None


def font_name(value) -> str | None:
    """A font's name without its subset prefix (`ABCDEF+Times-Bold` is `Times-Bold`)."""
    found = name(value)
    return (found.split("+", 1)[-1] or None) if found else None
