"""Settings (core/settings.py): defaults without an environment, each bad value named with
what it expected (and secrets never echoed), the .env file under the real environment, and
.env.example listing every setting."""

from pathlib import Path

import pytest

from core.settings import Settings, SettingsError, load_settings, process_environment, setting_names

ROOT = Path(__file__).resolve().parent.parent


def test_defaults_need_no_environment():
    settings = load_settings({})
    assert settings == Settings()
    assert settings.queue_name == "pdf-tasks"
    assert settings.task_retries == 3
    assert settings.task_retry_delay == 60
    assert settings.queue_backend == "sqlite"


def test_huey_redis_url_falls_back_to_redis_url():
    assert load_settings({"REDIS_URL": "redis://h:6379"}).redis_url == "redis://h:6379"
    both = {"REDIS_URL": "redis://a:1", "HUEY_REDIS_URL": "rediss://b:2"}
    assert load_settings(both).redis_url == "rediss://b:2"
    assert load_settings(both).queue_backend == "redis"


def test_immediate_mode_uses_memory():
    assert load_settings({"HUEY_IMMEDIATE": "true", "REDIS_URL": "redis://x"}).queue_backend == (
        "memory"
    )


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("HUEY_WORKERS", "two", "whole number"),
        ("HUEY_WORKERS", "0", "at least 1"),
        ("HUEY_WORKER_TYPE", "greenlet", "thread, process"),
        ("HUEY_IMMEDIATE", "maybe", "true or false"),
        ("MAX_UPLOAD_BYTES", "-5", "at least 1"),
        ("TASK_RETRY_BACKOFF", "0.5", "at least 1"),
        ("TASK_RETRY_DELAY", "soon", "a number"),
        ("S3_BUCKET", "My_Bucket", "S3 bucket name"),
        ("S3_ENDPOINT_URL", "localhost:9000", "http://"),
        ("REDIS_URL", "localhost:6379", "redis://"),
        ("PRESIGN_EXPIRY", "0", "at least 1"),
        ("PRESIGN_EXPIRY", "604801", "at most 604800"),
        ("CORS_ORIGINS", "pdfq.example.com", "origins like"),
        ("CORS_ORIGINS", "https://pdfq.example.com/upload", "origins like"),
        ("EVENTS_WEBHOOK_SECRET", "short", "at least 16 characters"),
        ("METRICS_TOKEN", "s3cr3t", "at least 24 characters"),
        ("WEBHOOK_MAX_CONCURRENT", "0", "at least 1"),
    ],
)
def test_a_bad_value_names_the_variable_and_what_it_expected(name, value, expected):
    with pytest.raises(SettingsError) as info:
        load_settings({name: value})
    assert name in str(info.value)
    assert expected in str(info.value)


def test_cors_origins_are_a_list_without_trailing_slashes():
    settings = load_settings({"CORS_ORIGINS": " https://a.example, http://127.0.0.1:8000/ ,"})
    assert settings.cors_origins == ("https://a.example", "http://127.0.0.1:8000")
    assert load_settings({"CORS_ORIGINS": "*"}).cors_origins == ("*",)
    assert load_settings({}).cors_origins == ()


@pytest.mark.parametrize(
    ("name", "value", "shown"),
    [
        ("REDIS_URL", "redis:/:s3cretpass@host:6379", "redis:***@host:6379"),
        ("HUEY_REDIS_URL", "http://user:s3cretpass@host", "http:***@host"),
        ("S3_ENDPOINT_URL", "s3:/user:s3cretpass@minio:9000", "s3:***@minio:9000"),
        ("REDIS_URL", "localhost:s3cretpass@host", "localhost:***@host"),
        ("REDIS_URL", "//:s3cretpass@host", "***@host"),
        ("CORS_ORIGINS", "https://u:s3cretpass@app.example/x", "https:***@app.example/x"),
    ],
)
def test_a_bad_url_is_shown_without_what_stands_before_its_at(name, value, shown):
    with pytest.raises(SettingsError) as info:
        load_settings({name: value})
    assert "s3cretpass" not in str(info.value)
    assert f"{name}='{shown}'" in str(info.value)


def test_a_bad_secret_is_not_echoed_back():
    with pytest.raises(SettingsError) as info:
        load_settings({"EVENTS_WEBHOOK_SECRET": "hunter2"})
    assert "hunter2" not in str(info.value)


def test_env_file_is_read_under_the_real_environment(tmp_path, monkeypatch):
    env_file = tmp_path / "dev.env"
    env_file.write_text("HUEY_WORKERS=5\nS3_BUCKET=from-file\n")
    monkeypatch.setenv("PDFQ_ENV_FILE", str(env_file))
    monkeypatch.setenv("S3_BUCKET", "from-env")
    settings = load_settings()
    assert settings.workers == 5
    assert settings.s3_bucket == "from-env"


def test_env_example_lists_every_setting():
    example = (ROOT / ".env.example").read_text()
    listed = {line.lstrip("# ").split("=", 1)[0] for line in example.splitlines() if "=" in line}
    missing = set(setting_names()) - listed
    assert not missing, f".env.example does not mention {sorted(missing)}"


# --- defaults a platform implies ---


def test_on_render_the_page_origin_defaults_to_the_services_own_url():
    settings = load_settings(
        {"RENDER_EXTERNAL_URL": "https://pdfq-web.onrender.com", "RENDER": "true"}
    )
    assert settings.cors_origins == ("https://pdfq-web.onrender.com",)
    assert settings.proxy_hops == 1  # Render's router


def test_on_heroku_with_dyno_metadata_the_origin_is_the_apps_domain():
    env = {"HEROKU_APP_DEFAULT_DOMAIN_NAME": "pdfq-1a2b3c.herokuapp.com", "DYNO": "web.1"}
    settings = load_settings(env)
    assert settings.cors_origins == ("https://pdfq-1a2b3c.herokuapp.com",)
    assert settings.proxy_hops == 1


def test_set_values_win_and_an_empty_cors_origins_keeps_the_platform_default():
    base = {"RENDER_EXTERNAL_URL": "https://pdfq-web.onrender.com", "RENDER": "true"}
    explicit = load_settings({**base, "CORS_ORIGINS": "https://app.example", "PROXY_HOPS": "2"})
    assert explicit.cors_origins == ("https://app.example",)
    assert explicit.proxy_hops == 2
    assert load_settings({**base, "CORS_ORIGINS": ""}).cors_origins == (
        "https://pdfq-web.onrender.com",
    )


def test_off_the_platforms_nothing_is_assumed():
    settings = load_settings({})
    assert (settings.cors_origins, settings.proxy_hops, settings.web_concurrency) == ((), 0, 2)


def test_dotenv_is_exported_under_the_real_environment(tmp_path, monkeypatch):
    env_file = tmp_path / ".env"
    env_file.write_text("HUEY_WORKERS=3\nLOG_LEVEL=debug\n")
    monkeypatch.setenv("PDFQ_ENV_FILE", str(env_file))
    monkeypatch.setenv("LOG_LEVEL", "error")
    environment = process_environment()
    assert environment["HUEY_WORKERS"] == "3"
    assert environment["LOG_LEVEL"] == "error"  # the real environment wins
