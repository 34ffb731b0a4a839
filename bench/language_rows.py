"""Row r: document languages. The language pdfq gives each corpus file whose language is
known (tests/support/corpus.py LANGUAGES) against that language, and what it costs per page
beside the text (in-process, on the code the sandboxed child runs)."""

from __future__ import annotations

import time

from bench.harness import Row
from engines import languages, pdfminer_engine
from tests.support.corpus import GOOD, LANGUAGES

QUICK_PAGES = 5  # pages of each file in quick mode


def rows(full: bool) -> list[Row]:
    right, wrong = 0, []
    text_seconds = language_seconds = 0.0
    pages = 0
    for name, code in sorted(LANGUAGES.items()):
        chosen = {} if full else {"max_pages": QUICK_PAGES}
        started = time.monotonic()
        extraction = pdfminer_engine.extract(GOOD / name, options={"outputs": [], **chosen})
        text_seconds += time.monotonic() - started
        started = time.monotonic()
        document = languages.Document()
        for page in languages.attach(extraction.pages):
            document.add(page.text, page.language, page.number)
            pages += 1
        language_seconds += time.monotonic() - started
        found = document.result()["code"]
        if found == code:
            right += 1
        else:
            wrong.append(f"{name}: {found}, not {code}")
    share = right / len(LANGUAGES)
    return [
        Row(
            "r. document language",
            f"{right}/{len(LANGUAGES)} files right" + (f" ({'; '.join(wrong)})" if wrong else ""),
            "each file's known language",
            share,
            "= 1.00",
            share == 1,
        ),
        Row(
            "r. language cost",
            f"{1000 * language_seconds / pages:.1f} ms a page ({pages} pages)",
            f"pdfminer.six's text: {1000 * text_seconds / pages:.1f} ms a page",
            language_seconds / text_seconds,
            "informational",
            None,
        ),
    ]
