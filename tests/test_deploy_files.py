"""The Procfile and the dev runner agree with the settings they start."""

import shlex

from core.settings import Settings
from infra.dev import procfile


def test_procfile_has_web_worker_and_release():
    assert set(procfile()) == {"web", "worker", "release"}


def test_web_is_gunicorn_serving_the_app_factory():
    args = shlex.split(procfile()["web"])
    assert args[0] == "gunicorn"
    assert "functions:create_app()" in args
    assert "gunicorn.conf.py" in args


def test_worker_defaults_match_the_settings_defaults():
    command = procfile()["worker"]
    assert command.startswith("huey_consumer consumer.tasks.huey ")
    defaults = Settings()
    assert f"${{HUEY_WORKERS:-{defaults.workers}}}" in command
    assert f"${{HUEY_WORKER_TYPE:-{defaults.worker_type}}}" in command
    assert f"${{HUEY_SHUTDOWN_TIMEOUT:-{defaults.shutdown_timeout:g}}}" in command


def test_worker_finishes_running_work_on_sigterm_within_the_platform_grace():
    command = procfile()["worker"]
    assert "--graceful-signal TERM" in command
    assert Settings().shutdown_timeout < 30  # Heroku kills 30 s after SIGTERM


def test_release_provisions():
    assert procfile()["release"] == "python -m infra.provision"
