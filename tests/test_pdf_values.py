"""engines/pdf_values.py: whatever type pdfminer.six gives a name or a string in (bytes, str,
a PSLiteral, a reference, None), pdfq gets text or None, never an exception."""

import pytest
from pdfminer.pdftypes import PDFObjRef
from pdfminer.psparser import PSLiteral

from engines import pdf_values


class Document:
    def __init__(self, objects):
        self.objects = objects

    def getobj(self, objid):
        return self.objects[objid]


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (b"Stra\xdfe ", "Straße"),
        (b"\xfe\xff\x03\xa9\x00m", "Ωm"),
        ("plain", "plain"),
        (PSLiteral("Name"), "Name"),
        (PSLiteral(b"Bytes"), "Bytes"),
        (None, None),
        (42, None),
        (b"   ", None),
        ({"a": 1}, None),
    ],
)
def test_text_is_a_string_or_none(value, text):
    assert pdf_values.text(value) == text


def test_references_are_followed_and_a_broken_or_looping_one_is_none():
    document = Document({1: b"Title", 2: PDFObjRef(None, 2)})
    assert pdf_values.text(PDFObjRef(document, 1)) == "Title"
    assert pdf_values.text(PDFObjRef(Document({}), 9)) is None
    looping = Document({})
    looping.objects[2] = PDFObjRef(looping, 2)
    assert pdf_values.text(PDFObjRef(looping, 2)) is None


@pytest.mark.parametrize(
    ("value", "name"),
    [
        (b"\x00\x00\x00A\x00\x00\x00r\x00\x00\x00i\x00\x00\x00a\x00\x00\x00l", "Arial"),
        (b"Caf\xe9", "Café"),  # not UTF-8: read as Latin-1
        (PSLiteral("ABCDEF+Times-Bold"), "ABCDEF+Times-Bold"),
        ("Helvetica", "Helvetica"),
        (None, None),
        (3.5, None),
    ],
)
def test_a_name_is_text_whatever_pdfminer_made_of_it(value, name):
    assert pdf_values.name(value) == name


def test_a_font_name_loses_its_subset_prefix():
    assert pdf_values.font_name(b"ABCDEF+Times-Bold") == "Times-Bold"
    assert pdf_values.font_name(PSLiteral("Times-Roman")) == "Times-Roman"
    assert pdf_values.font_name(b"") is None
