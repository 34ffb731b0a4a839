"""OCR: the ocr engine, the ocr=auto fallback, and its quality on an image-only test set."""

import pypdfium2 as pdfium
import pytest
from pdfminer.high_level import extract_text

from bench import image_pdfs
from core.jobs import options
from core.settings import load_settings
from engines import ocr_engine, pdfminer_engine
from tests.support.corpus import BAD, GOOD

RESOLVED = options.for_engine({}, "ocr", load_settings({}, dotenv=False))


@pytest.fixture(scope="module")
def image_set(tmp_path_factory):
    return image_pdfs.build(tmp_path_factory.mktemp("image-pdfs"), image_pdfs.QUICK)


def test_ocr_of_image_only_renders_recalls_the_born_digital_words(image_set):
    hits = total = 0
    for source, page, image in image_set:
        assert not extract_text(image).strip(), "the rendered PDF must hold no text layer"
        found = ocr_engine.extract(image, options=RESOLVED).pages[0].text
        want, got = (
            image_pdfs.words(image_pdfs.reference_text(source, page)),
            image_pdfs.words(found),
        )
        hits += sum(min(count, got[word]) for word, count in want.items())
        total += sum(want.values())
    assert total > 500
    assert hits / total >= 0.97


def test_the_ocr_engine_reads_every_page_and_says_how(image_set):
    _, _, image = image_set[0]
    progress = []
    result = ocr_engine.extract(
        image,
        options={**RESOLVED, "outputs": ["blocks"]},
        on_page=lambda done, total: progress.append((done, total)),
    )
    [page] = result.pages
    assert page.ocr["engine"] == "tesseract"
    assert page.ocr["languages"] == "eng"
    assert 50 < page.ocr["confidence"] <= 100
    assert result.warnings == ["ocr_pages:1"]
    assert progress == [(1, 1)]
    heights = [block["bbox"][3] - block["bbox"][1] for block in page.blocks]
    assert page.blocks and all(0 < h < 800 for h in heights), "bboxes in PDF points"


def test_auto_ocrs_only_the_pages_without_text(image_set, tmp_path):
    # Page 1 born-digital, page 2 an image-only render of the same kind of page.
    _, _, image = image_set[1]
    mixed = pdfium.PdfDocument.new()
    mixed.import_pages(pdfium.PdfDocument(str(GOOD / "pdfminer_jo.pdf")), [0])
    mixed.import_pages(pdfium.PdfDocument(str(image)), [0])
    path = tmp_path / "mixed.pdf"
    mixed.save(str(path))
    text_only = pdfminer_engine.extract(path)
    assert text_only.pages[0].text.strip() and not text_only.pages[1].text.strip()
    seen = []
    result = ocr_engine.fill_blank_pages(
        path, pdfminer_engine.extract(path), options=RESOLVED, on_ocr=seen.append
    )
    assert seen == [1]
    assert result.pages[0].text == text_only.pages[0].text and result.pages[0].ocr is None
    assert result.pages[1].ocr and len(result.pages[1].text.split()) > 100
    assert result.warnings == ["ocr_pages:1"]


def test_a_scan_pdfminer_finds_no_page_in_is_ocred_whole():
    # Its cross-reference offsets are wrong: pdfminer sees 0 pages, PDFium 2.
    path = BAD / "pdfminer_175.pdf"
    found = pdfminer_engine.extract(path)
    assert found.pages == [] and found.warnings == ["no_text_layer"]
    result = ocr_engine.fill_blank_pages(path, found, options=RESOLVED)
    assert [page.number for page in result.pages] == [1, 2]
    assert all(page.ocr and page.text.strip() for page in result.pages)
    assert result.warnings == ["ocr_pages:2"]


def test_a_page_selection_is_kept_by_the_ocr_engine():
    result = ocr_engine.extract(
        BAD / "pdfminer_encrypted_doc_no_id.pdf", options={**RESOLVED, "pages": "2"}
    )
    assert [page.number for page in result.pages] == [2]
    assert result.pages[0].ocr and len(result.pages[0].text.split()) > 20


AUTO = options.for_engine({}, "pdfminer", load_settings({}, dotenv=False))


@pytest.mark.parametrize("engine", ["auto", "ocr"])
def test_a_page_ocr_fails_on_keeps_its_text_with_a_warning_and_the_others_are_read(
    monkeypatch, engine
):
    from engines import ocr_pages

    real = ocr_pages._read_page

    def failing(api, tesserocr, document, number, *args):
        if number == 1:
            raise RuntimeError("Tesseract could not read this image")
        return real(api, tesserocr, document, number, *args)

    monkeypatch.setattr(ocr_pages, "_read_page", failing)
    scan = BAD / "pymupdf_test_4034.pdf"  # two scanned pages, no text layer
    if engine == "auto":
        text = pdfminer_engine.extract(scan, options=AUTO)
        result = ocr_engine.fill_blank_pages(scan, text, options=AUTO)
    else:
        result = ocr_engine.extract(scan, options=RESOLVED)
    first, second = result.pages
    assert first.ocr is None and first.warnings == ["ocr_failed"] and not first.text.strip()
    assert second.ocr and second.text.strip() and not second.warnings
    assert "ocr_failed" in result.warnings and "ocr_pages:1" in result.warnings
