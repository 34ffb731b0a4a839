"""The `flask pdf` group (functions/cli/__init__.py): stderr is for a person, whatever
LOG_FORMAT the service's log drains want."""

import subprocess
import uuid

import pytest

from infra import local_s3
from tests.support.corpus import GOOD
from tests.support.servers import BIN, ROOT, child_env


@pytest.mark.integration
def test_submit_prints_no_json_log_lines_on_stderr(moto_server, tmp_path):
    env = child_env(
        PDFQ_ENV_FILE="",
        PDFQ_DATA_DIR=str(tmp_path / "data"),
        S3_ENDPOINT_URL=moto_server,
        S3_BUCKET=f"cli-{uuid.uuid4().hex[:8]}",
        HUEY_IMMEDIATE="true",  # the extraction runs in this process and logs as it goes
        LOG_FORMAT="json",
        LOG_LEVEL="info",
        **local_s3.FAKE_CREDENTIALS,
    )
    subprocess.run([str(BIN / "python"), "-m", "infra.provision"], env=env, cwd=ROOT, check=True)
    pdf = sorted(GOOD.glob("*.pdf"))[0]
    result = subprocess.run(
        [str(BIN / "flask"), "pdf", "submit", str(pdf)],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "1 queued" in result.stderr
    assert not [line for line in result.stderr.splitlines() if line.startswith("{")], result.stderr
