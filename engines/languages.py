"""Languages: each page's (ISO 639-1 code and confidence) from its text, the document's from
its pages', and the Tesseract languages that read a script, for `ocr_languages=auto`.

Each page is read by langdetect (Google's language-detection profiles, pure Python, 55
languages) on at most SAMPLE_CHARS of its text, with its random walk seeded: the same text
gives the same answer, run after run. A page with fewer than MIN_LETTERS letters has no
language (None). The document's language is the one most of its letters are in, with the
letter-weighted confidence of its pages. Only jobs that ask (`outputs=languages`, or
`ocr_languages=auto`) load the profiles: about 2 s once per sandboxed child.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Iterator

from engines.base import Page

SAMPLE_CHARS = 3000
MIN_LETTERS = 40
SEED = 0
# pdfminer's placeholder for a glyph with no Unicode, and the replacement character: no
# language's letters (a page of them would read as Catalan).
_UNMAPPED = re.compile(r"\(cid:\d+\)|\ufffd")
# langdetect's codes that are not ISO 639-1 as they stand.
_ISO = {"zh-cn": "zh", "zh-tw": "zh"}
# ISO 639-1 -> Tesseract's language names (ISO 639-2/T, Tesseract's own for scripts' variants).
TESSERACT = {
    "af": "afr", "ar": "ara", "bg": "bul", "bn": "ben", "ca": "cat", "cs": "ces", "cy": "cym",
    "da": "dan", "de": "deu", "el": "ell", "en": "eng", "es": "spa", "et": "est", "fa": "fas",
    "fi": "fin", "fr": "fra", "gu": "guj", "he": "heb", "hi": "hin", "hr": "hrv", "hu": "hun",
    "id": "ind", "it": "ita", "ja": "jpn", "kn": "kan", "ko": "kor", "lt": "lit", "lv": "lav",
    "mk": "mkd", "ml": "mal", "mr": "mar", "ne": "nep", "nl": "nld", "no": "nor", "pa": "pan",
    "pl": "pol", "pt": "por", "ro": "ron", "ru": "rus", "sk": "slk", "sl": "slv", "so": "som",
    "sq": "sqi", "sv": "swe", "sw": "swa", "ta": "tam", "te": "tel", "th": "tha", "tl": "tgl",
    "tr": "tur", "uk": "ukr", "ur": "urd", "vi": "vie", "zh": "chi_sim",
}  # fmt: skip
# Unicode script (the first word of a letter's name) -> the Tesseract languages written in it.
SCRIPTS = {
    "LATIN": ("eng", "deu", "fra", "spa", "ita", "por", "nld", "pol", "ces", "swe", "tur"),
    "CYRILLIC": ("rus", "ukr", "bul", "srp", "mkd"),
    "GREEK": ("ell",),
    "ARABIC": ("ara", "fas", "urd"),
    "HEBREW": ("heb",),
    "CJK": ("chi_sim", "chi_tra", "jpn"),
    "HIRAGANA": ("jpn",),
    "KATAKANA": ("jpn",),
    "HANGUL": ("kor",),
    "DEVANAGARI": ("hin", "mar", "nep"),
    "THAI": ("tha",),
}


UNDETERMINED = {"code": "und", "confidence": 0.0}  # ISO 639-2's code for "cannot tell"


def page_language(text: str) -> dict | None:
    """{"code", "confidence"} of `text`, or None with too few letters to tell."""
    sample = _UNMAPPED.sub(" ", text[: SAMPLE_CHARS * 2])[:SAMPLE_CHARS]
    if sum(char.isalpha() for char in sample) < MIN_LETTERS:
        return None
    from langdetect import DetectorFactory, detect_langs  # only jobs that ask load it
    from langdetect.lang_detect_exception import LangDetectException

    DetectorFactory.seed = SEED
    try:
        best = detect_langs(sample)[0]
    except LangDetectException:
        return None
    return {"code": _ISO.get(best.lang, best.lang), "confidence": round(best.prob, 3)}


def attach(pages: Iterable[Page]) -> Iterator[Page]:
    """`pages`, each given its language as it passes."""
    for page in pages:
        page.language = page_language(page.text) or UNDETERMINED
        yield page


class Document:
    """The document's language, gathered a page at a time from its pages' languages."""

    def __init__(self):
        self.letters: Counter = Counter()
        self.weighted: Counter = Counter()
        self.pages: list[dict] = []  # [{"page", "code", "confidence"}]

    def add(self, text: str, language: dict | None, number: int):
        if not language:
            return
        self.pages.append({"page": number, **language})
        if language["code"] == UNDETERMINED["code"]:
            return
        letters = sum(char.isalpha() for char in _UNMAPPED.sub("", text[:SAMPLE_CHARS]))
        self.letters[language["code"]] += letters
        self.weighted[language["code"]] += letters * language["confidence"]

    def result(self) -> dict:
        """{"code", "confidence"} of the language most letters are in ("und" with none)."""
        if not self.letters:
            return dict(UNDETERMINED)
        code, _ = max(self.letters.items(), key=lambda item: (item[1], item[0]))
        return {"code": code, "confidence": round(self.weighted[code] / self.letters.total(), 3)}


def script(text: str) -> str | None:
    """The Unicode script most of the letters of `text` are written in (SCRIPTS' names)."""
    counts: Counter = Counter()
    for char in text[:SAMPLE_CHARS]:
        if char.isalpha():
            name = unicodedata.name(char, "")
            counts[name.split(" ")[0]] += 1
    return counts.most_common(1)[0][0] if counts else None


def tesseract_languages(text: str, installed: Iterable[str], fallback: str) -> str:
    """The Tesseract languages to read a page like `text` with, among `installed`: the
    detected language's (with English beside it, for the numbers and names every document
    has), else its script's; `fallback` when neither is installed or nothing can be told."""
    installed = set(installed)
    found = page_language(text)
    chosen: list[str] = []
    if found and TESSERACT.get(found["code"]) in installed:
        chosen.append(TESSERACT[found["code"]])
    else:
        chosen += [lang for lang in SCRIPTS.get(script(text) or "", ()) if lang in installed]
    if chosen and "eng" in installed and "eng" not in chosen:
        chosen.append("eng")
    return "+".join(chosen) or fallback
