"""`flask pdf ...` in-process (immediate queue, moto): outputs and exit codes scripts rely on."""

import json

import pytest
from pdfminer.high_level import extract_text

from core import exitcodes, keys, services
from core.errors import StorageUnavailable
from tests.corpus import BAD, GOOD


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


def test_submit_only_good_files_exits_0_with_json_lines(pdf):
    result = pdf("submit", "--wait", "--json", str(GOOD / "pdfminer_jo.pdf"))
    assert result.exit_code == exitcodes.OK, result.output
    [line] = [json.loads(line) for line in result.stdout.splitlines()]
    assert line["status"] == "succeeded"
    assert line["pages"] == 1
    assert services.jobs().get(line["job_id"], "public").filename == "pdfminer_jo.pdf"


def test_submit_with_storage_down_exits_3_and_says_why(pdf, s3, monkeypatch):
    def down(*args, **kwargs):
        raise StorageUnavailable()

    monkeypatch.setattr(s3, "upload_file", down)
    result = pdf("submit", str(GOOD / "pdfminer_jo.pdf"))
    assert result.exit_code == exitcodes.UNAVAILABLE
    assert "pdf: storage_unavailable: Object storage is unreachable" in result.stderr
    assert "Traceback" not in result.output


def test_status_prints_a_line_per_job_and_exits_4_for_unknown_ids(pdf):
    job_id = json.loads(pdf("submit", "--json", str(GOOD / "pdfminer_dmca.pdf")).stdout)["job_id"]
    result = pdf("status", job_id)
    assert result.exit_code == 0
    assert result.stdout.split("\t")[:4] == ["succeeded", job_id, "pdfminer_dmca.pdf", "18/18"]
    assert json.loads(pdf("status", "--json", job_id).stdout)["links"]["result"].endswith("/result")
    missing = pdf("status", job_id, "0" * 32)
    assert missing.exit_code == exitcodes.NOT_FOUND
    assert job_id in missing.stdout
    assert f"no job {'0' * 32}" in missing.stderr


def test_result_writes_the_text_or_says_why_there_is_none(pdf, tmp_path):
    path = GOOD / "pdfminer_dmca.pdf"
    job_id = json.loads(pdf("submit", "--json", str(path)).stdout)["job_id"]
    out = tmp_path / "out.txt"
    assert pdf("result", job_id, "-o", str(out)).exit_code == 0
    assert out.read_text() == extract_text(path)
    pages = json.loads(pdf("result", job_id, "--format", "json").stdout)["pages"]
    assert len(pages) == 18

    bad = json.loads(pdf("submit", "--json", str(BAD / "pdfminer_aes-128.pdf")).stdout)
    failed = pdf("result", bad["job_id"])
    assert failed.exit_code == exitcodes.FAILED
    assert "encrypted" in failed.stderr

    queued = services.jobs().create(
        job_id=keys.new_job_id(), tenant="public", filename="a.pdf", size=1
    )
    not_ready = pdf("result", queued.id)
    assert not_ready.exit_code == exitcodes.NOT_READY
    assert "queued" in not_ready.stderr
    assert pdf("result", "nope").exit_code == exitcodes.NOT_FOUND


def test_queue_shows_pending_scheduled_in_flight_and_jobs(pdf):
    pdf("submit", str(GOOD / "pdfminer_jo.pdf"), str(BAD / "pdfminer_rc4-40.pdf"))
    shape = json.loads(pdf("queue", "--json").stdout)
    assert shape["pending"] == shape["scheduled"] == shape["in_flight"] == 0
    assert shape["jobs"]["succeeded"] == shape["jobs"]["failed"] == 1
    text = pdf("queue").stdout
    assert "pending\t0\n" in text
    assert "jobs.failed\t1\n" in text


def test_failed_lists_recent_failed_jobs_newest_first(pdf):
    pdf("submit", str(GOOD / "pdfminer_jo.pdf"))
    first = json.loads(pdf("submit", "--json", str(BAD / "pdfminer_rc4-40.pdf")).stdout)
    second = json.loads(pdf("submit", "--json", str(BAD / "truncated_tail_test_2861.pdf")).stdout)
    result = pdf("failed")
    assert result.exit_code == 0
    rows = [line.split("\t") for line in result.stdout.splitlines()]
    assert [row[1] for row in rows] == [second["job_id"], first["job_id"]]
    assert rows[0][4].startswith("corrupt: ")
    assert "pdf: 2 failed since 7d" in result.stderr
    assert pdf("failed", "--since", "soon").exit_code == exitcodes.USAGE


def test_provision_check_exits_6_when_it_would_change_the_bucket(pdf):
    result = pdf("provision", "--check")
    assert result.exit_code == exitcodes.CHANGES_PENDING
    assert "lifecycle: would set" in result.stdout
    assert pdf("provision").exit_code == 0
    assert pdf("provision", "--check").exit_code == 0


def test_result_of_an_expired_result_exits_1_naming_it(pdf, s3):
    job_id = json.loads(pdf("submit", "--json", str(GOOD / "pdfminer_jo.pdf")).stdout)["job_id"]
    for name in keys.RESULT_FILES:
        s3.delete(keys.result_key("public", job_id, name))
    result = pdf("result", job_id)
    assert result.exit_code == exitcodes.FAILED
    assert "pdf: result_expired: " in result.stderr


def test_token_new_prints_a_token_its_hashed_entry_and_the_webhook_secret(pdf, setenv):
    from core import tokens, webhooks
    from core.settings import load_settings

    setenv(WEBHOOK_SECRET="webhook-secret-0123456789")
    result = pdf("token", "new", "acme")
    assert result.exit_code == 0, result.output
    lines = dict(line.split("\t") for line in result.stdout.splitlines())
    assert lines["entry"] == f"acme:sha256:{tokens.digest(lines['token'])}"
    table = load_settings({"API_TOKENS": lines["entry"]}).api_tokens
    assert tokens.tenant_of(lines["token"], table) == "acme"
    assert lines["webhook_secret"] == webhooks.tenant_secret("webhook-secret-0123456789", "acme")
    assert (
        pdf("token", "secret", "acme").stdout.strip()
        == f"webhook_secret\t{lines['webhook_secret']}"
    )


@pytest.mark.parametrize("tenant", ["public", "Acme", "../x"])
def test_token_new_refuses_a_tenant_name_that_cannot_be_one(pdf, tenant):
    result = pdf("token", "new", tenant)
    assert result.exit_code == exitcodes.FAILED
    assert "pdf: bad_request: tenant" in result.stderr
