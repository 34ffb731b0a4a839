import subprocess
import sys

from core.settings import load_settings
from core.storage import Storage
from infra import local_s3
from tests.servers import ROOT, child_env


def run_provision(**env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "infra.provision"],
        cwd=ROOT,
        text=True,
        capture_output=True,
        env=child_env(PDFQ_ENV_FILE="", **env),
    )


def test_provision_creates_the_bucket_once_and_checks_redis(moto_server, redis_url):
    env = {
        "S3_ENDPOINT_URL": moto_server,
        "S3_BUCKET": "provision-test",
        "HUEY_REDIS_URL": redis_url,
        "CORS_ORIGINS": "http://127.0.0.1:8000",
        **local_s3.FAKE_CREDENTIALS,
    }
    first = run_provision(**env)
    assert first.returncode == 0, first.stderr
    assert "bucket provision-test: created" in first.stdout
    assert "cors: set for http://127.0.0.1:8000" in first.stdout
    assert "answers" in first.stdout
    second = run_provision(**env)
    assert second.returncode == 0
    assert "bucket provision-test: exists" in second.stdout
    assert "cors: unchanged (http://127.0.0.1:8000)" in second.stdout
    settings = load_settings({"S3_ENDPOINT_URL": moto_server, "S3_BUCKET": "provision-test"})
    Storage(settings).ping()


def test_provision_fails_with_a_message_when_redis_is_down(moto_server):
    result = run_provision(
        S3_ENDPOINT_URL=moto_server,
        S3_BUCKET="provision-test2",
        HUEY_REDIS_URL="redis://127.0.0.1:1/0",
        **local_s3.FAKE_CREDENTIALS,
    )
    assert result.returncode == 1
    assert "Redis unreachable at redis://127.0.0.1:1/0" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_bad_setting_stops_provisioning_with_its_name():
    result = run_provision(HUEY_WORKERS="many")
    assert result.returncode == 2
    assert "HUEY_WORKERS='many': expected a whole number" in result.stderr
