"""samples/: the PDFs the README's first commands upload exist in every clone, are what
samples/make_samples.py writes, and read back as the text they were written with."""

import re
import subprocess
import sys

import pytest
from pdfminer.high_level import extract_text

from tests.support.servers import ROOT

SAMPLES = ROOT / "samples"
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def test_the_committed_samples_are_what_the_script_writes(tmp_path):
    subprocess.run(
        [sys.executable, str(SAMPLES / "make_samples.py"), str(tmp_path)],
        check=True,
        capture_output=True,
    )
    written = sorted(path.name for path in tmp_path.iterdir())
    assert written == sorted(path.name for path in SAMPLES.glob("*.pdf"))
    for name in written:
        assert (tmp_path / name).read_bytes() == (SAMPLES / name).read_bytes(), name


@pytest.mark.parametrize(
    ("name", "first_line", "pages"),
    [("welcome.pdf", "Welcome to pdfq", 1), ("report.pdf", "Quarterly Report", 3)],
)
def test_each_sample_reads_back_as_its_text(name, first_line, pages):
    text = extract_text(SAMPLES / name)
    assert text.startswith(first_line + "\n")
    assert text.count("\f") == pages
    assert f"Page {pages} of {pages}" in text


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_guides_upload_files_a_clone_has(page):
    """A clone has no ../shared (the test corpus lives beside the repository, not in it):
    the examples a newcomer copies name the samples, which exist."""
    text = page.read_text()
    assert "../shared" not in text
    for name in re.findall(r"\bsamples/[\w.-]+\.pdf", text):
        assert (ROOT / name).is_file(), f"{page.name} names {name}"
