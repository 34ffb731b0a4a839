"""pdfminer.six's per-character code made cheaper (engines/pdfminer_fast.py): the same
characters, lines and text as stock pdfminer.six. The whole corpus is compared page by page
through the sandbox, where they are installed, by tests/test_corpus_text.py."""

import collections
import io
import logging

import pdfminer
import pytest
from pdfminer.high_level import extract_pages, extract_text_to_fp
from pdfminer.layout import LAParams, LTChar, LTContainer, LTTextLine

from engines import pdfminer_fast
from tests.support.corpus import GOOD, NONDETERMINISTIC

pytestmark = pytest.mark.unit
# Horizontal and vertical writing, rotated pages, Type3 and CID fonts, form fields.
FILES = [
    "pdfminer_jo.pdf",
    "pdfminer_kampo.pdf",
    "pdfminer_f1040nr.pdf",
    "pdfjs_tracemonkey.pdf",
    "pdfjs_ThuluthFeatures.pdf",
    "pdfminer_czech-non-unicode-cmap.pdf",
]
VERTICAL = LAParams(detect_vertical=True)


@pytest.fixture
def fast(monkeypatch):
    """The equivalents installed for this test only."""
    for owner, name, _ in pdfminer_fast.replacements():
        monkeypatch.setattr(owner, name, getattr(owner, name))
    assert pdfminer_fast.install()


def characters(path, laparams):
    """Every character of every page, as layout analysis leaves it, with its line's box."""
    found = []

    def walk(item, line):
        if isinstance(item, LTChar):
            found.append(
                (item.get_text(), item.bbox, item.width, item.height, item.size, item.adv)
                + (item.upright, item.fontname, item.matrix, line)
            )
        elif isinstance(item, LTContainer):
            line = item.bbox if isinstance(item, LTTextLine) else line
            for child in item:
                walk(child, line)

    for page in extract_pages(path, laparams=laparams):
        walk(page, None)
    return found


def text(path, laparams):
    out = io.StringIO()
    with open(path, "rb") as fp:
        extract_text_to_fp(fp, out, laparams=laparams)
    return out.getvalue()


@pytest.mark.parametrize("name", FILES)
@pytest.mark.parametrize("laparams", [LAParams(), VERTICAL], ids=["horizontal", "vertical"])
def test_every_character_and_its_line_are_as_stock_pdfminer_lays_them_out(request, name, laparams):
    stock = characters(GOOD / name, laparams)
    request.getfixturevalue("fast")
    fast = characters(GOOD / name, laparams)
    if name in NONDETERMINISTIC:  # stock orders its boxes differently from run to run
        assert collections.Counter(fast) == collections.Counter(stock)
    else:
        assert fast == stock


@pytest.mark.parametrize("name", [n for n in FILES if n not in NONDETERMINISTIC])
def test_the_text_is_stock_pdfminers_to_the_character(request, name):
    stock = text(GOOD / name, LAParams())
    request.getfixturevalue("fast")
    assert text(GOOD / name, LAParams()) == stock


def test_another_pdfminer_release_runs_its_own_code(monkeypatch):
    monkeypatch.setattr(pdfminer, "__version__", "20990101")
    before = LTChar.__init__
    assert not pdfminer_fast.install()
    assert LTChar.__init__ is before


def test_a_logger_asked_for_debug_keeps_it():
    log = logging.getLogger("pdfminer.psparser")
    previous = log.level
    log.setLevel(logging.DEBUG)
    try:
        assert log not in [owner for owner, _, _ in pdfminer_fast.replacements()]
    finally:
        log.setLevel(previous)
