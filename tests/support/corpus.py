"""The shared PDF corpus (../shared/corpus), read through its MANIFEST.tsv files."""

from __future__ import annotations

import csv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT.parent / "shared" / "corpus"
GOOD = CORPUS / "good"
BAD = CORPUS / "bad"

# pdfminer breaks ties in its layout analysis by id(), so for these files even
# extract_text itself returns the same characters in a different order from run to run.
NONDETERMINISTIC = {
    "pdfjs_standard_fonts.pdf",
    "pdfminer_kampo.pdf",
    "pymupdf_test_3780.pdf",
    "pypdf_GeoBase_NHNC1_Data_Model_UML_EN.pdf",  # its page 4, about one run in two
}
# The language each of these files is written in (ISO 639-1), from its MANIFEST notes and its
# text read by hand: the language row (bench q) and tests/test_languages.py check them.
LANGUAGES = {
    "pdfminer_i1040nr.pdf": "en",
    "pdfminer_f1040nr.pdf": "en",
    "pdfminer_dmca.pdf": "en",
    "pdfminer_naacl06-shinyama.pdf": "en",
    "pdfminer_pagelabels.pdf": "en",
    "pdfminer_asw-oct96-p41.pdf": "en",
    "pdfjs_tracemonkey.pdf": "en",
    "pdfjs_pdkids.pdf": "en",
    "pdfjs_wikipedia.pdf": "en",
    "pymupdf_2201.00069.pdf": "en",
    "pymupdf_test_3842.pdf": "en",
    "pymupdf_test_4751.pdf": "en",
    "pymupdf_small-table.pdf": "en",
    "pymupdf_cms-etc-filled.pdf": "en",
    "pdfminer_jo.pdf": "ja",
    "pdfminer_kampo.pdf": "ja",
    "pdfjs_issue16538.pdf": "ja",
    "pdfminer_sap-invoice-filters.pdf": "nl",
    "pymupdf_chinese-tables.pdf": "zh",
    "pymupdf_test_3186.pdf": "it",
    "pdfjs_bug1868759.pdf": "fr",
    "pdfjs_issue6127.pdf": "fr",
    "pdfjs_bug1669099.pdf": "de",
    "pdfjs_issue13211.pdf": "th",
}
# Covered by the sandbox (time and memory caps), not by plain extraction.
NEEDS_SANDBOX = {"gen_flate_bomb.pdf", "gen_slow_layout.pdf"}


def manifest(folder: Path) -> list[dict[str, str]]:
    with open(folder / "MANIFEST.tsv", newline="", encoding="utf-8") as fp:
        return list(csv.DictReader(fp, delimiter="\t"))


def expected_outcome(row: dict[str, str]) -> tuple[str, str | None]:
    """(final status or 'rejected', error code or warning) that pdfq must reach for a bad file."""
    outcome = row["outcome"]
    if outcome == "not_pdf":
        return "rejected", "empty_file" if row["bytes"] == "0" else "not_a_pdf"
    if outcome == "ok":
        return "succeeded", None
    if outcome == "no_text":
        return "succeeded", "no_text_layer"  # the engine's; the service OCRs them (ocr_read)
    if outcome == "encrypted":
        return "failed", "encrypted"
    if outcome == "other:PDFNotImplementedError":
        return "failed", "unsupported"
    return "failed", "corrupt"  # pdfminer's parse errors and the plain ones fuzzed files raise


def ocr_read(warnings: list[str]) -> bool:
    """A job's warnings say OCR read its pages (`ocr_pages:N`): what the service makes of a
    `no_text` file when OCR is installed, instead of the engine's `no_text_layer`."""
    return any(warning.startswith("ocr_pages:") for warning in warnings)
