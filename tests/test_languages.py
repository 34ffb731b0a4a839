"""Languages (engines/languages.py): each page's and the document's, deterministic, right on
every corpus file whose language is known; `ocr_languages=auto` picks Tesseract's languages
from the text."""

import json

import pytest

from core import ocr_support
from core.errors import BadRequest
from core.jobs import options
from core.settings import load_settings
from engines import languages, pdfminer_engine
from tests.support.corpus import GOOD, LANGUAGES
from tests.test_options import JOBS, submit

pytest.importorskip("langdetect")

ENGLISH = "The quick brown fox jumps over the lazy dog, and the dog does not mind at all."
GERMAN = "Der schnelle braune Fuchs springt über den faulen Hund, und der Hund stört sich nicht."
RUSSIAN = "Съешь же ещё этих мягких французских булок, да выпей чаю, сказал он мне вчера."


def test_a_page_s_language_is_its_code_and_confidence_the_same_every_time():
    first = [languages.page_language(text) for text in (ENGLISH, GERMAN, RUSSIAN) * 3]
    assert [found["code"] for found in first[:3]] == ["en", "de", "ru"]
    assert first[:3] * 3 == first, "seeded: the same answer every time"
    assert all(0.5 < found["confidence"] <= 1 for found in first)
    assert languages.page_language("Page 3 (cid:12)(cid:13)") is None


def test_the_document_s_language_is_the_one_most_letters_are_in():
    document = languages.Document()
    for number, text in enumerate([ENGLISH * 3, GERMAN, "12"], 1):
        document.add(text, languages.page_language(text) or languages.UNDETERMINED, number)
    assert document.result()["code"] == "en"
    assert 0 < document.result()["confidence"] < 1
    assert [p["code"] for p in document.pages] == ["en", "de", "und"]
    assert languages.Document().result() == {"code": "und", "confidence": 0.0}


@pytest.mark.parametrize("name", sorted(LANGUAGES))
def test_the_document_language_is_right_on_each_corpus_file_whose_language_is_known(name):
    extraction = pdfminer_engine.extract(GOOD / name, options={"outputs": [], "max_pages": 3})
    document = languages.Document()
    for page in languages.attach(extraction.pages):
        document.add(page.text, page.language, page.number)
    assert document.result()["code"] == LANGUAGES[name]


def test_tesseract_languages_follow_the_language_then_the_script_among_those_installed():
    installed = ("deu", "eng", "rus")
    assert languages.tesseract_languages(GERMAN, installed, "eng") == "deu+eng"
    assert languages.tesseract_languages(ENGLISH, installed, "deu") == "eng"
    assert languages.tesseract_languages(RUSSIAN, ("eng",), "eng") == "eng"
    assert languages.script(RUSSIAN) == "CYRILLIC"
    assert languages.tesseract_languages("Ελληνικά " * 10, ("eng",), "eng") == "eng"


def test_ocr_languages_auto_is_accepted_and_resolved_with_its_fallback():
    settings = load_settings({}, dotenv=False)
    if not ocr_support.available(settings.tessdata_prefix):
        pytest.skip("OCR is not installed here")
    parsed = options.parse({"ocr_languages": "auto"}, settings=settings)
    assert parsed["ocr_languages"] == "auto"
    resolved = options.for_engine(parsed, "ocr", settings)
    assert resolved["ocr_languages"] == "auto"
    assert resolved["ocr_fallback"] == settings.ocr_languages
    with pytest.raises(BadRequest):
        options.parse({"ocr_languages": "auto+eng"}, settings=settings)


def test_a_german_scan_is_read_again_in_german_under_auto(tmp_path):
    settings = load_settings({}, dotenv=False)
    if "deu" not in ocr_support.languages(settings.tessdata_prefix):
        pytest.skip("Tesseract's German is not installed here")
    from bench import image_pdfs
    from engines import ocr_engine

    scan = image_pdfs.image_only(GOOD / "pdfjs_bug1669099.pdf", 1, tmp_path, dpi=200)
    resolved = options.for_engine({"ocr_languages": "auto"}, "ocr", settings)
    resolved["ocr_fallback"] = "eng"
    [page] = ocr_engine.extract(scan, options=resolved).pages
    assert page.ocr["languages"] == "deu+eng"
    assert languages.page_language(page.text)["code"] == "de"


def test_languages_through_the_api_in_the_summary_and_each_page(client):
    job = submit(client, GOOD / "pdfjs_issue6127.pdf", outputs="languages")
    document = client.get(f"{JOBS}/{job['id']}/result?format=json").get_json()
    assert document["language"]["code"] == "fr" and document["language"]["confidence"] > 0.5
    assert [p["page"] for p in document["page_languages"]] == [1, 2, 3]
    assert all(p["language"]["code"] in ("fr", "und") for p in document["pages"])
    plain = submit(client, GOOD / "pdfjs_issue6127.pdf", pages="1")
    summary = client.get(f"{JOBS}/{plain['id']}/result?format=json").get_json()
    assert "language" not in summary and "language" not in summary["pages"][0]
    lines = client.get(f"{JOBS}/{job['id']}/result?format=pages").get_data(as_text=True)
    assert json.loads(lines.splitlines()[0])["language"]["code"] == "fr"
