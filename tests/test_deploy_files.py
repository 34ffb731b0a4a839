"""The Procfile, and every other way of deploying, agree with the settings they start."""

import configparser
import json
import re
import shlex

import yaml

from core.settings import Settings, setting_names
from infra import run
from infra.dev import procfile
from tests.support.servers import ROOT


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


# --- Heroku, Render, Docker and supervisor run the Procfile's commands ---

# Read by the platform, gunicorn or boto3 rather than by core/settings.py.
PLATFORM_VARIABLES = {
    "PORT",
    "WEB_CONCURRENCY",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_DEFAULT_REGION",
}


def known(name: str) -> bool:
    return name in setting_names() or name in PLATFORM_VARIABLES


def render_services() -> dict[str, dict]:
    blueprint = yaml.safe_load((ROOT / "render.yaml").read_text())
    return {service["type"]: service for service in blueprint["services"]}


def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def graceful_signal() -> str:
    """The signal on which the Procfile's huey_consumer lets running tasks finish."""
    match = re.search(r"(?:-g|--graceful-signal)[ =](\w+)", procfile()["worker"])
    return match[1] if match else "INT"  # huey's default


def test_app_json_has_redis_web_worker_and_a_generated_metrics_token():
    app = json.loads((ROOT / "app.json").read_text())
    assert any(a["plan"].startswith("heroku-redis") for a in app["addons"])
    assert set(app["formation"]) == {"web", "worker"}
    assert app["env"]["METRICS_TOKEN"]["generator"] == "secret"
    unknown = [name for name in app["env"] if not known(name)]
    assert not unknown, f"app.json sets variables pdfq does not read: {unknown}"


def test_render_runs_the_procfile_commands_on_a_redis_that_never_evicts():
    services = render_services()
    commands = procfile()
    assert services["web"]["startCommand"] == commands["web"]
    assert services["worker"]["startCommand"] == commands["worker"]
    assert services["web"]["preDeployCommand"] == commands["release"]
    assert services["web"]["healthCheckPath"] == "/api/v1/pdf/health"
    keyvalue = services["keyvalue"]
    assert keyvalue["maxmemoryPolicy"] == "noeviction"
    for kind in ("web", "worker"):
        [redis_url] = [v for v in services[kind]["envVars"] if v.get("key") == "REDIS_URL"]
        assert redis_url["fromService"]["name"] == keyvalue["name"]


def test_render_sets_only_variables_pdfq_reads():
    blueprint = yaml.safe_load((ROOT / "render.yaml").read_text())
    names = [v["key"] for s in blueprint["services"] for v in s.get("envVars", []) if "key" in v]
    names += [v["key"] for g in blueprint["envVarGroups"] for v in g["envVars"]]
    assert [name for name in names if not known(name)] == []


def test_docker_image_runs_procfile_processes_through_infra_run():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert 'ENTRYPOINT ["python", "-m", "infra.run"]' in dockerfile
    assert 'CMD ["web"]' in dockerfile
    assert "USER pdfq" in dockerfile


def test_compose_runs_release_then_web_and_worker_on_a_redis_that_never_evicts():
    services = compose()["services"]
    assert services["release"]["command"] == ["release"]
    assert services["web"]["command"] == ["web"]
    assert services["worker"]["command"] == ["worker"]
    for name in ("web", "worker"):
        depends = services[name]["depends_on"]["release"]
        assert depends["condition"] == "service_completed_successfully"
    redis_command = services["redis"]["command"]
    assert redis_command[redis_command.index("--maxmemory-policy") + 1] == "noeviction"
    assert services["worker"]["stop_signal"] == f"SIG{graceful_signal()}"
    s3 = services["web"]["environment"]["S3_ENDPOINT_URL"]
    assert s3.startswith("http://s3:")
    assert [name for name in services["web"]["environment"] if not known(name)] == []


def test_supervisor_runs_web_and_worker_through_infra_run_and_stops_the_worker_gently():
    config = configparser.ConfigParser(inline_comment_prefixes=(";",))
    config.read(ROOT / "deploy" / "supervisor" / "pdfq.conf")
    assert config["program:pdfq-web"]["command"].endswith("-m infra.run web")
    assert config["program:pdfq-worker"]["command"].endswith("-m infra.run worker")
    assert config["program:pdfq-worker"]["stopsignal"] == graceful_signal()


def test_infra_run_knows_every_procfile_process_and_refuses_others(capsys):
    assert run.main(["nope"]) == 2
    usage = capsys.readouterr().err
    for name in procfile():
        assert name in usage


def test_platform_deploys_ask_for_api_tokens_since_production_refuses_to_start_without():
    app = json.loads((ROOT / "app.json").read_text())
    assert app["env"]["API_TOKENS"]["required"] is True
    assert "PDFQ_ENV" not in app["env"]  # production, the default
    group = yaml.safe_load((ROOT / "render.yaml").read_text())["envVarGroups"][0]["envVars"]
    assert {"key": "API_TOKENS", "sync": False} in group
