"""`flask pdf submit` in-process (functions/cli/submit.py; immediate queue, moto): one line
per file or folder entry, refusals with their code, and the exit codes scripts rely on."""

import json

import pytest

from core import exitcodes
from core.errors import StorageUnavailable
from tests.support.corpus import BAD, GOOD


@pytest.fixture
def folder(tmp_path):
    """A folder of corpus PDFs (links, never copies), a refused one and a file that is not *.pdf."""
    for path in (GOOD / "pdfminer_jo.pdf", GOOD / "pdfminer_dmca.pdf", BAD / "pdfminer_rc4-40.pdf"):
        (tmp_path / path.name).symlink_to(path)
    (tmp_path / "notes.pdf").symlink_to(BAD / "text_renamed.pdf")
    (tmp_path / "README.txt").write_text("not a pdf, not taken")
    return tmp_path


def by_file(stdout: str) -> dict[str, list[str]]:
    rows = [line.split("\t") for line in stdout.splitlines()]
    return {row[2].rsplit("/", 1)[-1]: row for row in rows}


def test_submit_a_folder_reports_each_file_and_exits_1_when_one_failed(pdf, folder):
    result = pdf("submit", "--wait", str(folder))
    assert result.exit_code == exitcodes.FAILED, result.output
    rows = by_file(result.stdout)
    assert set(rows) == {"pdfminer_jo.pdf", "pdfminer_dmca.pdf", "pdfminer_rc4-40.pdf", "notes.pdf"}
    assert rows["pdfminer_dmca.pdf"][0] == "succeeded"
    assert rows["pdfminer_dmca.pdf"][3] == "18 pages"
    assert rows["pdfminer_rc4-40.pdf"][0] == "failed"
    assert rows["pdfminer_rc4-40.pdf"][3].startswith("encrypted: ")
    assert rows["notes.pdf"][:2] == ["refused", "-"]
    assert rows["notes.pdf"][3].startswith("not_a_pdf: ")
    assert "pdf: 4 files: 1 failed, 1 refused, 2 succeeded" in result.stderr
    assert "Submitting" in result.stderr


def test_submit_only_good_files_exits_0_with_json_lines(pdf, services):
    result = pdf("submit", "--wait", "--json", str(GOOD / "pdfminer_jo.pdf"))
    assert result.exit_code == exitcodes.OK, result.output
    [line] = [json.loads(line) for line in result.stdout.splitlines()]
    assert line["status"] == "succeeded"
    assert line["pages"] == 1
    assert services.records.get(line["job_id"], "public").filename == "pdfminer_jo.pdf"


def test_submit_with_storage_down_exits_3_and_says_why(pdf, services, monkeypatch):
    def down(*args, **kwargs):
        raise StorageUnavailable()

    monkeypatch.setattr(services.storage, "upload_file", down)
    result = pdf("submit", str(GOOD / "pdfminer_jo.pdf"))
    assert result.exit_code == exitcodes.UNAVAILABLE
    assert "pdf: storage_unavailable: Object storage is unreachable" in result.stderr
    assert "Traceback" not in result.output
