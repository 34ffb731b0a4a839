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
