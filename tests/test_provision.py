import subprocess
import sys
import uuid

import pytest

from core.settings import get_settings, load_settings
from core.storage import Storage
from infra import bucket, local_s3, provision, redis_check
from tests.servers import ROOT, RedisServer, child_env


def run_provision(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "infra.provision", *args],
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
        HUEY_REDIS_URL="redis://:hunter2@127.0.0.1:1/0",
        **local_s3.FAKE_CREDENTIALS,
    )
    assert result.returncode == 3  # unavailable: try again later
    assert "provision failed: redis: Redis unreachable at redis://:***@127.0.0.1:1/0" in (
        result.stderr
    )
    assert "hunter2" not in result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    # The bucket step still ran: one outage does not hide the rest of the report.
    assert "bucket provision-test2: created" in result.stdout


def test_a_bad_setting_stops_provisioning_with_its_name():
    result = run_provision(HUEY_WORKERS="many")
    assert result.returncode == 2
    assert "HUEY_WORKERS='many': expected a whole number" in result.stderr


def test_check_reports_what_it_would_do_and_changes_nothing(moto_server, redis_url):
    env = {
        "S3_ENDPOINT_URL": moto_server,
        "S3_BUCKET": f"check-{uuid.uuid4().hex[:8]}",
        "HUEY_REDIS_URL": redis_url,
        **local_s3.FAKE_CREDENTIALS,
    }
    check = run_provision("--check", **env)
    assert check.returncode == 6, check.stderr
    assert f"bucket {env['S3_BUCKET']}: would create" in check.stdout
    assert "lifecycle: would set: unfinished uploads dropped after 1 day(s); sources/ " in (
        check.stdout
    )
    assert run_provision("--check", **env).returncode == 6  # still nothing was created
    assert run_provision(**env).returncode == 0
    again = run_provision("--check", **env)
    assert again.returncode == 0, again.stdout
    assert "would" not in again.stdout


# --- in-process: the bucket's rules and notifications, Redis's policy ---


@pytest.fixture
def bucket_env(moto_server, setenv):
    name = f"prov-{uuid.uuid4().hex[:8]}"
    setenv(S3_ENDPOINT_URL=moto_server, S3_BUCKET=name, **local_s3.FAKE_CREDENTIALS)
    return name


def outcome_lines(capsys) -> str:
    captured = capsys.readouterr()
    return captured.out + captured.err


def lifecycle(name: str, moto_server: str) -> list[dict]:
    settings = load_settings({"S3_ENDPOINT_URL": moto_server, "S3_BUCKET": name})
    client = Storage(settings).client
    return client.get_bucket_lifecycle_configuration(Bucket=name)["Rules"]


def test_retention_settings_become_lifecycle_rules_and_foreign_rules_stay(
    bucket_env, moto_server, setenv, capsys
):
    assert provision.main([]) == 0
    ids = {rule["ID"]: rule for rule in lifecycle(bucket_env, moto_server)}
    assert ids["pdfq-expire-sources"]["Expiration"]["Days"] == 30
    assert ids["pdfq-expire-sources"]["Filter"]["Prefix"] == "sources/"
    assert "pdfq-expire-results" not in ids  # RESULT_RETENTION_DAYS=0 keeps results forever

    client = Storage(load_settings({"S3_ENDPOINT_URL": moto_server})).client
    theirs = {"ID": "theirs", "Filter": {"Prefix": "tmp/"}, "Status": "Enabled"}
    theirs["Expiration"] = {"Days": 1}
    rules = [*lifecycle(bucket_env, moto_server), theirs]
    client.put_bucket_lifecycle_configuration(
        Bucket=bucket_env, LifecycleConfiguration={"Rules": rules}
    )
    setenv(SOURCE_RETENTION_DAYS="0", RESULT_RETENTION_DAYS="90")
    assert provision.main(["--check"]) == 6
    assert "would set: unfinished uploads dropped after 1 day(s); results/ expire after 90" in (
        outcome_lines(capsys)
    )
    assert provision.main([]) == 0
    ids = {rule["ID"]: rule for rule in lifecycle(bucket_env, moto_server)}
    assert set(ids) == {"pdfq-abort-incomplete-uploads", "pdfq-expire-results", "theirs"}
    assert ids["pdfq-expire-results"]["Expiration"]["Days"] == 90


def test_event_notifications_only_when_an_arn_is_set(bucket_env, moto_server, setenv, capsys):
    client = Storage(load_settings({"S3_ENDPOINT_URL": moto_server})).client
    assert provision.main([]) == 0
    assert "events: none (S3_EVENTS_ARN is not set)" in outcome_lines(capsys)

    topic = "arn:aws:sns:us-east-1:123456789012:pdfq-sources"
    setenv(S3_EVENTS_ARN=topic)
    assert provision.main([]) == 0
    entries = client.get_bucket_notification_configuration(Bucket=bucket_env)["TopicConfigurations"]
    by_id = {entry["Id"]: entry for entry in entries}
    assert set(by_id) == {bucket.NOTIFICATION_ID, bucket.INBOX_NOTIFICATION_ID}
    for entry in entries:
        assert entry["TopicArn"] == topic
        assert entry["Events"] == ["s3:ObjectCreated:*"]
    rules = {
        entry_id: {r["Name"].lower(): r["Value"] for r in e["Filter"]["Key"]["FilterRules"]}
        for entry_id, e in by_id.items()
    }
    assert rules[bucket.NOTIFICATION_ID] == {"prefix": "sources/", "suffix": ".pdf"}
    assert rules[bucket.INBOX_NOTIFICATION_ID] == {"prefix": "inbox/"}
    assert provision.main(["--check"]) == 0  # in place: nothing to change

    setenv(S3_EVENTS_ARN="")
    assert provision.main(["--check"]) == 6
    assert provision.main([]) == 0
    config = client.get_bucket_notification_configuration(Bucket=bucket_env)
    assert not config.get("TopicConfigurations")


@pytest.fixture
def evicting_redis(tmp_path):
    server = RedisServer(tmp_path, extra_args=("--maxmemory-policy", "allkeys-lru"))
    yield server
    server.stop()


def test_an_evicting_redis_is_reported_by_check_and_fixed_by_provision(
    evicting_redis, bucket_env, setenv, capsys
):
    setenv(HUEY_REDIS_URL=evicting_redis.url)
    assert provision.main(["--check"]) == 6
    assert "would set maxmemory-policy allkeys-lru -> noeviction" in outcome_lines(capsys)
    assert evicting_redis.client.config_get("maxmemory-policy")["maxmemory-policy"] == (
        "allkeys-lru"
    )
    assert provision.main([]) == 0
    assert "set maxmemory-policy allkeys-lru -> noeviction" in outcome_lines(capsys)
    assert evicting_redis.client.config_get("maxmemory-policy")["maxmemory-policy"] == (
        "noeviction"
    )


def test_an_evicting_managed_redis_fails_with_the_command_that_fixes_it(tmp_path, setenv):
    # Heroku and Render disable CONFIG: pdfq cannot fix the policy and must say how to.
    server = RedisServer(
        tmp_path,
        extra_args=("--maxmemory-policy", "volatile-lru", "--rename-command", "CONFIG", ""),
    )
    try:
        setenv(HUEY_REDIS_URL=server.url)
        [version, eviction, _] = redis_check.provision(get_settings(), apply=True)
    finally:
        server.stop()
    assert version.state == "ok"
    assert eviction.state == "failed"
    assert "maxmemory-policy is volatile-lru" in eviction.detail
    assert "heroku redis:maxmemory" in eviction.detail
    assert "maxmemoryPolicy: noeviction" in eviction.detail


def test_a_redis_close_to_maxmemory_is_a_warning(evicting_redis, setenv):
    evicting_redis.client.config_set("maxmemory-policy", "noeviction")
    used = int(evicting_redis.client.info("memory")["used_memory"])
    evicting_redis.client.config_set("maxmemory", str(int(used * 1.05)))
    setenv(HUEY_REDIS_URL=evicting_redis.url)
    [_, eviction, memory] = redis_check.provision(get_settings(), apply=False)
    assert eviction.state == "ok"
    assert memory.state == "warning"
    assert "when it is full, Redis refuses new tasks" in memory.detail


@pytest.fixture(scope="module")
def tls_redis(tmp_path_factory):
    server = RedisServer(tmp_path_factory.mktemp("redis-tls"), tls=True)
    yield server
    server.stop()


def test_redis_over_tls_with_a_self_signed_certificate_passes(tls_redis, setenv):
    setenv(REDIS_URL=tls_redis.url)
    outcomes = redis_check.provision(get_settings(), apply=False)
    assert [o.state for o in outcomes] == ["ok", "ok", "ok"]
    assert outcomes[0].subject == f"redis {tls_redis.url}"


def test_redis_tls_verification_names_the_setting_that_allows_self_signed(tls_redis, setenv):
    setenv(REDIS_URL=tls_redis.url, REDIS_SSL_VERIFY="true")
    [outcome] = redis_check.provision(get_settings(), apply=False)
    assert outcome.state == "failed"
    assert "REDIS_SSL_VERIFY=false" in outcome.detail


def test_a_redis_password_problem_is_named_without_showing_the_password(evicting_redis, setenv):
    evicting_redis.client.config_set("requirepass", "sekret")
    setenv(HUEY_REDIS_URL=evicting_redis.url)  # no password
    [none] = redis_check.provision(get_settings(), apply=False)
    setenv(HUEY_REDIS_URL=evicting_redis.url.replace("redis://", "redis://:hunter2@"))
    [wrong] = redis_check.provision(get_settings(), apply=False)
    assert none.state == wrong.state == "failed"
    assert "asks for a password and the URL has none" in none.detail
    assert "refused the password in the URL" in wrong.detail
    assert "hunter2" not in wrong.subject + wrong.detail
