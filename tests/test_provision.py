"""Provisioning (infra/provision.py and its steps in infra/bucket.py, infra/cors.py,
infra/redis_check.py): `python -m infra.provision` creates or fixes the bucket, its rules and
Redis's policy, reports one line per finding, and `--check` changes nothing; each exit code
says how it went."""

import subprocess
import sys
import uuid

import pytest

from core.adapters.storage import Storage
from core.settings import Settings, load_settings
from infra import bucket, local_s3, provision, redis_check
from infra.report import CHANGED, OK
from tests.support.servers import ROOT, RedisServer, child_env


def run_provision(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "infra.provision", *args],
        cwd=ROOT,
        text=True,
        capture_output=True,
        env=child_env(PDFQ_ENV_FILE="", **env),
    )


@pytest.mark.integration
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


@pytest.mark.integration
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


@pytest.mark.integration
def test_check_reports_what_it_would_do_and_changes_nothing(moto_server, redis_url):
    env = {
        "S3_ENDPOINT_URL": moto_server,
        "S3_BUCKET": f"check-{uuid.uuid4().hex[:8]}",
        "HUEY_REDIS_URL": redis_url,
        "CORS_ORIGINS": "http://127.0.0.1:8000",
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


@pytest.mark.integration
def test_check_fails_naming_cors_origins_when_the_page_could_not_upload(moto_server, redis_url):
    env = {
        "S3_ENDPOINT_URL": moto_server,
        "S3_BUCKET": f"nocors-{uuid.uuid4().hex[:8]}",
        "HUEY_REDIS_URL": redis_url,
        **local_s3.FAKE_CREDENTIALS,
    }
    release = run_provision(**env)
    assert release.returncode == 0, release.stderr  # a deploy is not stopped for it
    assert "upload page cannot upload" in release.stdout
    check = run_provision("--check", **env)
    assert check.returncode == 1
    assert "provision failed: cors: " in check.stderr and "Set CORS_ORIGINS" in check.stderr
    # On Render the web's own URL is the default: nothing to set.
    render = run_provision(RENDER_EXTERNAL_URL="https://pdfq-web.onrender.com", **env)
    assert "cors: set for https://pdfq-web.onrender.com" in render.stdout
    assert (
        run_provision(
            "--check", RENDER_EXTERNAL_URL="https://pdfq-web.onrender.com", **env
        ).returncode
        == 0
    )


# --- in-process: the bucket's rules and notifications, Redis's policy ---


def test_provisioning_creates_a_missing_bucket_once(services):
    [existing, *_] = bucket.provision(services.storage, services.settings, apply=True)
    assert (existing.state, existing.detail) == (OK, "exists")
    endpoint = services.settings.s3_endpoint_url
    settings = load_settings({"S3_BUCKET": "fresh-bucket", "S3_ENDPOINT_URL": endpoint})
    fresh = Storage(settings)
    [created, *_] = bucket.provision(fresh, settings, apply=True)
    assert (created.state, created.detail) == (CHANGED, "created")
    [again, *_] = bucket.provision(fresh, settings, apply=True)
    assert (again.state, again.detail) == (OK, "exists")


class Bucket:
    """A new bucket on the moto server, provisioned in this process with given settings."""

    def __init__(self, endpoint: str):
        self.endpoint = endpoint
        self.name = f"prov-{uuid.uuid4().hex[:8]}"

    def settings(self, **values: str) -> Settings:
        page = {"CORS_ORIGINS": "http://127.0.0.1:8000"}  # else --check fails on CORS alone
        return load_settings(
            {"S3_ENDPOINT_URL": self.endpoint, "S3_BUCKET": self.name, **page, **values}
        )

    def provision(self, *, check: bool = False, **values: str) -> int:
        """provision.run with these settings: its exit code (the findings are printed)."""
        settings = self.settings(**values)
        return provision.run(Storage(settings), settings, check)

    def client(self):
        return Storage(self.settings()).client

    def lifecycle(self) -> list[dict]:
        return self.client().get_bucket_lifecycle_configuration(Bucket=self.name)["Rules"]


@pytest.fixture
def new_bucket(moto_server) -> Bucket:
    return Bucket(moto_server)


def outcome_lines(capsys) -> str:
    captured = capsys.readouterr()
    return captured.out + captured.err


@pytest.mark.integration
def test_retention_settings_become_lifecycle_rules_and_foreign_rules_stay(new_bucket, capsys):
    assert new_bucket.provision() == 0
    ids = {rule["ID"]: rule for rule in new_bucket.lifecycle()}
    assert ids["pdfq-expire-sources"]["Expiration"]["Days"] == 30
    assert ids["pdfq-expire-sources"]["Filter"]["Prefix"] == "sources/"
    assert "pdfq-expire-results" not in ids  # RESULT_RETENTION_DAYS=0 keeps results forever

    theirs = {"ID": "theirs", "Filter": {"Prefix": "tmp/"}, "Status": "Enabled"}
    theirs["Expiration"] = {"Days": 1}
    rules = [*new_bucket.lifecycle(), theirs]
    new_bucket.client().put_bucket_lifecycle_configuration(
        Bucket=new_bucket.name, LifecycleConfiguration={"Rules": rules}
    )
    retention = {"SOURCE_RETENTION_DAYS": "0", "RESULT_RETENTION_DAYS": "90"}
    assert new_bucket.provision(check=True, **retention) == 6
    assert "would set: unfinished uploads dropped after 1 day(s); results/ expire after 90" in (
        outcome_lines(capsys)
    )
    assert new_bucket.provision(**retention) == 0
    ids = {rule["ID"]: rule for rule in new_bucket.lifecycle()}
    assert set(ids) == {"pdfq-abort-incomplete-uploads", "pdfq-expire-results", "theirs"}
    assert ids["pdfq-expire-results"]["Expiration"]["Days"] == 90


@pytest.mark.integration
def test_event_notifications_only_when_an_arn_is_set(new_bucket, capsys):
    client = new_bucket.client()
    assert new_bucket.provision() == 0
    assert "events: none (S3_EVENTS_ARN is not set)" in outcome_lines(capsys)

    topic = "arn:aws:sns:us-east-1:123456789012:pdfq-sources"
    assert new_bucket.provision(S3_EVENTS_ARN=topic) == 0
    entries = client.get_bucket_notification_configuration(Bucket=new_bucket.name)[
        "TopicConfigurations"
    ]
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
    # In place: nothing to change.
    assert new_bucket.provision(check=True, S3_EVENTS_ARN=topic) == 0

    assert new_bucket.provision(check=True, S3_EVENTS_ARN="") == 6
    assert new_bucket.provision(S3_EVENTS_ARN="") == 0
    config = client.get_bucket_notification_configuration(Bucket=new_bucket.name)
    assert not config.get("TopicConfigurations")


@pytest.fixture
def evicting_redis(tmp_path):
    server = RedisServer(tmp_path, extra_args=("--maxmemory-policy", "allkeys-lru"))
    yield server
    server.stop()


def policy(server: RedisServer) -> str:
    return server.client.config_get("maxmemory-policy")["maxmemory-policy"]


@pytest.mark.integration
def test_an_evicting_redis_is_reported_by_check_and_fixed_by_provision(
    evicting_redis, new_bucket, capsys
):
    redis = {"HUEY_REDIS_URL": evicting_redis.url}
    assert new_bucket.provision(check=True, **redis) == 6
    assert "would set maxmemory-policy allkeys-lru -> noeviction" in outcome_lines(capsys)
    assert policy(evicting_redis) == "allkeys-lru"
    assert new_bucket.provision(**redis) == 0
    assert "set maxmemory-policy allkeys-lru -> noeviction" in outcome_lines(capsys)
    assert policy(evicting_redis) == "noeviction"


def redis_settings(url: str, **values: str) -> Settings:
    return load_settings({"HUEY_REDIS_URL": url, **values})


@pytest.mark.integration
def test_an_evicting_managed_redis_fails_with_the_command_that_fixes_it(tmp_path):
    # Heroku and Render disable CONFIG: pdfq cannot fix the policy and must say how to.
    server = RedisServer(
        tmp_path,
        extra_args=("--maxmemory-policy", "volatile-lru", "--rename-command", "CONFIG", ""),
    )
    try:
        [version, eviction, _] = redis_check.provision(redis_settings(server.url), apply=True)
    finally:
        server.stop()
    assert version.state == "ok"
    assert eviction.state == "failed"
    assert "maxmemory-policy is volatile-lru" in eviction.detail
    assert "heroku redis:maxmemory" in eviction.detail
    assert "maxmemoryPolicy: noeviction" in eviction.detail


@pytest.mark.integration
def test_a_redis_close_to_maxmemory_is_a_warning(evicting_redis):
    evicting_redis.client.config_set("maxmemory-policy", "noeviction")
    used = int(evicting_redis.client.info("memory")["used_memory"])
    evicting_redis.client.config_set("maxmemory", str(int(used * 1.05)))
    [_, eviction, memory] = redis_check.provision(redis_settings(evicting_redis.url), apply=False)
    assert eviction.state == "ok"
    assert memory.state == "warning"
    assert "when it is full, Redis refuses new tasks" in memory.detail


@pytest.fixture(scope="module")
def tls_redis(tmp_path_factory):
    server = RedisServer(tmp_path_factory.mktemp("redis-tls"), tls=True)
    yield server
    server.stop()


@pytest.mark.integration
def test_redis_over_tls_with_a_self_signed_certificate_passes(tls_redis):
    outcomes = redis_check.provision(load_settings({"REDIS_URL": tls_redis.url}), apply=False)
    assert [o.state for o in outcomes] == ["ok", "ok", "ok"]
    assert outcomes[0].subject == f"redis {tls_redis.url}"


@pytest.mark.integration
def test_redis_tls_verification_names_the_setting_that_allows_self_signed(tls_redis):
    settings = load_settings({"REDIS_URL": tls_redis.url, "REDIS_SSL_VERIFY": "true"})
    [outcome] = redis_check.provision(settings, apply=False)
    assert outcome.state == "failed"
    assert "REDIS_SSL_VERIFY=false" in outcome.detail


@pytest.mark.integration
def test_a_redis_password_problem_is_named_without_showing_the_password(evicting_redis):
    evicting_redis.client.config_set("requirepass", "sekret")
    url = evicting_redis.url  # no password
    [none] = redis_check.provision(redis_settings(url), apply=False)
    wrong_url = url.replace("redis://", "redis://:hunter2@")
    [wrong] = redis_check.provision(redis_settings(wrong_url), apply=False)
    assert none.state == wrong.state == "failed"
    assert "asks for a password and the URL has none" in none.detail
    assert "refused the password in the URL" in wrong.detail
    assert "hunter2" not in wrong.subject + wrong.detail


@pytest.mark.integration
def test_a_store_without_lifecycle_or_notifications_deploys_with_warnings(s3rver_server, redis_url):
    from tests.support.servers import S3RVER_CREDENTIALS

    env = {
        "S3_ENDPOINT_URL": s3rver_server.url,
        "S3_BUCKET": f"provision-{uuid.uuid4().hex[:8]}",
        "HUEY_REDIS_URL": redis_url,
        "CORS_ORIGINS": "http://127.0.0.1:8000",
        **S3RVER_CREDENTIALS,
    }
    first = run_provision(**env)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "unreachable" not in first.stdout + first.stderr
    store = f"provision: bucket {env['S3_BUCKET']} store"
    assert f"{store}: recorded: honours all but conditional_create," in first.stdout
    for lacking in ("conditional_create", "conditional_replace"):
        assert f"provision warning: bucket {env['S3_BUCKET']} store: lacks {lacking}:" in (
            first.stdout
        )
    # Its stand-in does the same job: information, once, on the line of what it honours.
    assert "lacks copy_conditions" not in first.stdout
    assert "(copy_conditions: inbox copies check the source's ETag" in first.stdout
    assert "the store has no lifecycle rules: pdfq's retention task applies them" in first.stdout
    assert "none (S3_EVENTS_ARN is not set; the store has none)" in first.stdout

    check = run_provision("--check", **env)
    assert check.returncode == 0, check.stdout + check.stderr  # warnings are not changes
    assert f"{store}: honours all but" in check.stdout

    # Notifications asked for on a store that has none: a problem provisioning cannot fix.
    events = run_provision(**env, S3_EVENTS_ARN="arn:aws:sqs:us-east-1:123456789012:pdfq")
    assert events.returncode == 1
    assert "the store has no event notifications" in events.stderr


@pytest.mark.integration
def test_a_store_with_every_feature_is_recorded_without_warnings(moto_server):
    env = {
        "S3_ENDPOINT_URL": moto_server,
        "S3_BUCKET": f"provision-{uuid.uuid4().hex[:8]}",
        **local_s3.FAKE_CREDENTIALS,
    }
    first = run_provision(**env)
    assert first.returncode == 0, first.stderr
    assert "lacks conditional" not in first.stdout
    # moto ignores copy conditions, whose stand-in needs nothing from anyone: `make run`'s
    # every start says so once, as information, and warns about nothing.
    assert "provision warning: bucket" not in first.stdout + first.stderr
    (line,) = [line for line in first.stdout.splitlines() if "copy_conditions" in line]
    assert line.startswith(f"provision: bucket {env['S3_BUCKET']} store: recorded: honours")
    settings = load_settings({"S3_ENDPOINT_URL": moto_server, "S3_BUCKET": env["S3_BUCKET"]})
    recorded = Storage(settings).capabilities()
    assert recorded.conditional_writes and recorded.lifecycle
