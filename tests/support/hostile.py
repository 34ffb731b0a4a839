"""Hostile PDFs built byte by byte: a page tree that lies about its size, metadata that
points at one huge compressed string, a few KB that hold millions of characters."""

from __future__ import annotations

import struct
import zlib

_HELLO = b"BT /F1 24 Tf 72 720 Td (Hello) Tj ET"
_FONT = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"


def _stream(data: bytes, compress: bool = False) -> bytes:
    if compress:
        data = zlib.compress(data, 9)
        return (
            b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(data) + data + (b"\nendstream")
        )
    return b"<< /Length %d >>\nstream\n" % len(data) + data + b"\nendstream"


def classic(objects: list[bytes], trailer: bytes = b"") -> bytes:
    """A PDF of `objects` (numbered from 1, the first the catalog) with a classic xref."""
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R%s >>\n" % (len(objects) + 1, trailer)
    out += b"startxref\n%d\n%%%%EOF\n" % xref
    return bytes(out)


def lying_page_count(count: int = 1_000_000) -> bytes:
    """One real page under a page tree whose /Count says `count` (a few hundred bytes)."""
    return classic(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count %d >>" % count,
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
            b"/Resources << /Font << /F1 5 0 R >> >> >>",
            _stream(_HELLO),
            _FONT,
        ]
    )


def long_text(pages: int, lines: int, line_chars: int = 100) -> bytes:
    """`pages` pages sharing one compressed content stream of `lines` lines of `line_chars`
    characters: pages * lines * line_chars characters of text in a few KB."""
    line = b"(" + b"x" * line_chars + b") Tj T*\n"
    return pages_of(b"BT /F1 1 Tf 1 TL 0 0 Td\n" + line * lines + b"ET", pages, compress=True)


def pages_of(content: bytes, pages: int, compress: bool = False) -> bytes:
    """`pages` pages drawing one content stream (Helvetica as /F1)."""
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"", _FONT, _stream(content, compress)]
    kids = []
    for _ in range(pages):
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
            b"/Resources << /Font << /F1 3 0 R >> >> >>"
        )
        kids.append(b"%d 0 R" % len(objects))
    objects[1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (b" ".join(kids), pages)
    return classic(objects)


def metadata_bomb(size: int = 40 * 2**20) -> bytes:
    """One page whose /Title and /Author are the same string of `size` characters, kept
    compressed in an object stream (about 40 KB for 40 MB)."""
    return inflated_string("title", size)


def inflated_string(where: str, size: int = 40 * 2**20) -> bytes:
    """One page and one string of `size` characters kept compressed in an object stream (a
    few KB), named `where`: "title" (/Title and /Author of /Info), "outline" (the title of
    the one outline entry) or "page_tree" (the string shares its object stream with the
    page tree's root, so reading the page tree parses it)."""
    pages_ref = b"10 0 R" if where == "page_tree" else b"2 0 R"
    outlines = b" /Outlines 11 0 R" if where == "outline" else b""
    info = b"<< /Title 8 0 R /Author 8 0 R /Producer (pdfq tests) >>"
    objects = [
        b"<< /Type /Catalog /Pages %s%s >>" % (pages_ref, outlines),
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent %s /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>" % pages_ref,
        _stream(_HELLO),
        _FONT,
        info if where == "title" else b"<< /Producer (pdfq tests) >>",
    ]
    # Object 7 is the object stream holding object 8 (the string) and 10 (a second root of
    # the page tree); 9 the xref stream; 11 and 12 the outline.
    body = b"(" + b"A" * size + b")"
    root = b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>"
    head = b"8 0 10 %d\n" % len(body)
    first = len(head)
    packed = zlib.compress(head + body + root, 9)
    out = bytearray(b"%PDF-1.5\n")
    offsets = []
    for number, item in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + item + b"\nendobj\n"
    offsets.append(len(out))
    out += b"7 0 obj\n<< /Type /ObjStm /N 2 /First %d /Filter /FlateDecode /Length %d >>\n" % (
        first,
        len(packed),
    )
    out += b"stream\n" + packed + b"\nendstream\nendobj\n"
    outline = [
        b"<< /Type /Outlines /First 12 0 R /Last 12 0 R /Count 1 >>",
        b"<< /Title 8 0 R /Parent 11 0 R /Dest [3 0 R /Fit] >>",
    ]
    tail = []
    for number, item in enumerate(outline, start=11):
        tail.append(len(out))
        out += b"%d 0 obj\n" % number + item + b"\nendobj\n"
    rows = [struct.pack(">BIH", 0, 0, 65535)]
    rows += [struct.pack(">BIH", 1, offset, 0) for offset in offsets]
    rows.append(struct.pack(">BIH", 2, 7, 0))
    xref = len(out)
    rows.append(struct.pack(">BIH", 1, xref, 0))
    rows.append(struct.pack(">BIH", 2, 7, 1))
    rows += [struct.pack(">BIH", 1, offset, 0) for offset in tail]
    table = b"".join(rows)
    out += b"9 0 obj\n<< /Type /XRef /Size 13 /W [1 4 2] /Root 1 0 R /Info 6 0 R "
    out += b"/Length %d >>\nstream\n" % len(table) + table + b"\nendstream\nendobj\n"
    out += b"startxref\n%d\n%%%%EOF\n" % xref
    return bytes(out)


def short_metadata(title: str, author: str) -> bytes:
    """One page with a plain /Title and /Author."""
    return classic(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
            b"/Resources << /Font << /F1 5 0 R >> >> >>",
            _stream(_HELLO),
            _FONT,
            b"<< /Title (%s) /Author (%s) >>" % (title.encode(), author.encode()),
        ],
        trailer=b" /Info 6 0 R",
    )


def unsupported_crypt_filter() -> bytes:
    """One page encrypted (V4, AESV2) with different crypt filters for streams and strings,
    which pdfminer cannot apply: no password opens it there."""
    encrypt = (
        b"<< /Filter /Standard /V 4 /R 4 /Length 128 /P -4 "
        b"/O <" + b"11" * 32 + b"> /U <" + b"22" * 32 + b"> "
        b"/CF << /StdCF << /CFM /AESV2 /AuthEvent /DocOpen /Length 16 >> >> "
        b"/StmF /StdCF /StrF /Identity >>"
    )
    return classic(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R >>",
            _stream(b"BT ET"),
            encrypt,
        ],
        trailer=b" /Encrypt 5 0 R /ID [<" + b"ab" * 16 + b"> <" + b"ab" * 16 + b">]",
    )


def typed_metadata() -> bytes:
    """One page whose /Info holds a PDFDocEncoding string, a UTF-16 one, a name, a
    reference to a string and a number where text belongs."""
    return classic(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
            b"/Resources << /Font << /F1 5 0 R >> >> >>",
            _stream(_HELLO),
            _FONT,
            b"<< /Title (Stra\\337e) /Author <FEFF03A9006D0065006700610020> /Subject /Name "
            b"/Creator 7 0 R /Producer 42 /Keywords null >>",
            b"(Referenced)",
        ],
        trailer=b" /Info 6 0 R",
    )


def repeated_page_tree(levels: int = 6, repeat: int = 10, typed_leaf: bool = True) -> bytes:
    """One page listed `repeat` times by each of `levels` page-tree nodes, each node listed
    `repeat` times by the one above: repeat**levels pages to PDFium, one page object in
    truth (a kilobyte). Without `typed_leaf` the page has no /Type, and pdfminer sees none."""
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>"]
    for level in range(levels):
        kid = b"%d 0 R " % (level + 3)
        objects.append(
            b"<< /Type /Pages /Kids [%s] /Count %d >>"
            % ((kid * repeat).strip(), repeat ** (levels - level))
        )
    leaf = levels + 2
    page_type = b"/Type /Page " if typed_leaf else b""
    objects.append(
        b"<< %s/Parent %d 0 R /MediaBox [0 0 612 792] /Contents %d 0 R "
        b"/Resources << /Font << /F1 %d 0 R >> >> >>" % (page_type, leaf - 1, leaf + 1, leaf + 2)
    )
    objects += [_stream(_HELLO), _FONT]
    return classic(objects)
