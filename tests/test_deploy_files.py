"""The Procfile, and every other way of deploying, agree with the settings they start."""

import configparser
import json
import os
import re
import shlex
import subprocess

import yaml
from packaging.requirements import Requirement

from core.settings import Settings, platform_names, setting_names
from infra import run
from infra.dev import procfile
from tests.support.servers import BIN, ROOT
from tools.lock import canonical


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
    # Shallow: Render restarts a web that fails it, which cannot bring Redis or S3 back.
    assert services["web"]["healthCheckPath"] == "/api/v1/pdf/health/live"
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


def image_command(dockerfile_cmd: list[str], command: list[str] | None) -> list[str]:
    """What a container of the image runs: a platform's command (Compose's `command`,
    Render's `dockerCommand`) replaces CMD; an ENTRYPOINT would stay in front of either."""
    dockerfile = (ROOT / "Dockerfile").read_text()
    entrypoint = re.search(r"^ENTRYPOINT (.+)$", dockerfile, re.M)
    return (json.loads(entrypoint[1]) if entrypoint else []) + (command or dockerfile_cmd)


def dockerfile_cmd() -> list[str]:
    return json.loads(re.search(r"^CMD (.+)$", (ROOT / "Dockerfile").read_text(), re.M)[1])


def test_docker_image_runs_procfile_processes_through_infra_run():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert image_command(dockerfile_cmd(), None) == ["python", "-m", "infra.run", "web"]
    assert "USER pdfq" in dockerfile


def test_compose_runs_release_then_web_and_worker_on_a_redis_that_never_evicts():
    services = compose()["services"]
    for name in ("release", "web", "worker"):
        run_as = image_command(dockerfile_cmd(), services[name]["command"])
        assert run_as == ["python", "-m", "infra.run", name], run_as
    for name in ("web", "worker"):
        depends = services[name]["depends_on"]["release"]
        assert depends["condition"] == "service_completed_successfully"
    redis_command = services["redis"]["command"]
    assert redis_command[redis_command.index("--maxmemory-policy") + 1] == "noeviction"
    assert services["worker"]["stop_signal"] == f"SIG{graceful_signal()}"
    s3 = services["web"]["environment"]["S3_ENDPOINT_URL"]
    assert s3.startswith("http://s3:")
    assert [name for name in services["web"]["environment"] if not known(name)] == []


def test_render_docker_worker_runs_the_procfile_worker_line():
    """render.yaml's commented OCR worker (runtime: docker). Render's Blueprint reference
    (render.com/docs/blueprint-spec) gives `dockerCommand` as the command that stands in for
    the Dockerfile's ("optional (defaults to Dockerfile command)"), and Render's Docker
    guide for agents (render-oss skills, render-docker: "dockerCommand (overrides image
    CMD)") says what it replaces: CMD, so an ENTRYPOINT stays in front of it, as with
    `docker run IMAGE COMMAND`. The container must run exactly `python -m infra.run worker`
    once the image's ENTRYPOINT (if any) is put before the dockerCommand; with none, the
    command also runs as written should a platform replace the ENTRYPOINT too."""
    text = (ROOT / "render.yaml").read_text()
    commented = [line.split("#", 1)[1] for line in text.splitlines() if "#   " in line]
    lines = [line[3:] for line in commented if line.startswith("   ")]
    alternative = yaml.safe_load("\n".join(lines))
    assert alternative["runtime"] == "docker"
    assert (ROOT / alternative["dockerfilePath"]).exists()
    run_as = image_command(dockerfile_cmd(), shlex.split(alternative["dockerCommand"]))
    assert run_as == ["python", "-m", "infra.run", "worker"], run_as
    guide = (ROOT / "docs" / "deploy-render.md").read_text()
    assert f"`dockerCommand: {alternative['dockerCommand']}`" in guide


def test_compose_runs_the_moto_server_of_the_lock():
    """The store Compose starts is the moto version the tests and `make run` use."""
    image = compose()["services"]["s3"]["image"]
    assert image == f"motoserver/moto:{lock()['moto']}"


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
    web = render_services()["web"]["envVars"]
    assert {"key": "API_TOKENS", "sync": False} in web


# --- render.yaml within Render's rules ---
# "Blueprint YAML Reference" (Render's docs) and the JSON schema it publishes
# (render.yaml.json, served from SchemaStore). Each test names the section or definition.

# Schema definition `serverService` (additionalProperties: false): the fields a web service
# or background worker may have, of which pdfq uses these; `redisServer` for Key Value.
SERVER_SERVICE_FIELDS = {
    "type", "name", "region", "plan", "runtime", "repo", "branch", "image", "rootDir",
    "dockerCommand", "dockerContext", "dockerfilePath", "numInstances", "healthCheckPath",
    "scaling", "buildCommand", "startCommand", "preDeployCommand", "registryCredential",
    "domain", "domains", "envVars", "autoDeploy", "autoDeployTrigger", "initialDeployHook",
    "disk", "buildFilter", "previews", "maintenanceMode", "maxShutdownDelaySeconds",
    "ipAllowList", "renderSubdomainPolicy",
}  # fmt: skip
KEY_VALUE_FIELDS = {
    "type", "name", "region", "ipAllowList", "plan", "previewPlan", "maxmemoryPolicy",
    "persistenceMode",
}  # fmt: skip
# Schema definitions `envVarFromKeyValue`, `envVarFromService`, `envVarFromGroup`: one source.
VALUE_FIELDS = {"key", "value", "generateValue", "sync", "previewValue"}


def blueprint() -> dict:
    return yaml.safe_load((ROOT / "render.yaml").read_text())


def test_render_services_use_only_fields_the_schema_allows():
    for service in blueprint()["services"]:
        if service["type"] == "keyvalue":
            # Reference, "Key-Value-specific fields": ipAllowList is required.
            assert {"type", "name", "ipAllowList"} <= set(service)
            assert set(service) <= KEY_VALUE_FIELDS, service["name"]
        else:
            assert {"type", "name", "runtime"} <= set(service)  # serverService: required
            assert set(service) <= SERVER_SERVICE_FIELDS, service["name"]
            # Reference, "buildCommand"/"startCommand": required for non-Docker services.
            assert service["buildCommand"] and service["startCommand"]


def test_render_env_vars_have_one_source_each():
    """Reference, "Setting environment variables"; schema `envVar` (anyOf, no extra keys)."""
    for service in blueprint()["services"]:
        for var in service.get("envVars", []):
            if "fromGroup" in var:
                assert set(var) == {"fromGroup"}
            elif "fromService" in var:
                assert set(var) == {"key", "fromService"}
                assert {"name", "type"} <= set(var["fromService"])
            else:
                assert set(var) <= VALUE_FIELDS and "key" in var, var
                assert len(set(var) & {"value", "generateValue", "sync"}) == 1, var


def test_render_environment_group_holds_no_prompted_or_referenced_variables():
    """Reference, "Environment groups": "You can't define an environment variable with
    `sync: false` in an environment group" (Render ignores it: "Prompting for secret
    values"), and a group "can't reference values from your services". Schema: a group's
    `envVars` are `envVarFromKeyValue` only."""
    for group in blueprint()["envVarGroups"]:
        assert set(group) == {"name", "envVars"}
        for var in group["envVars"]:
            assert set(var) <= VALUE_FIELDS - {"sync"}, var


def test_render_prompts_each_service_for_the_secrets_it_reads():
    """Reference, "Prompting for secret values": `sync: false` in a service's own `envVars`
    is prompted for when the Blueprint is created. Both processes need the bucket and its
    key; only the web checks API tokens."""
    services = render_services()

    def prompted(kind: str) -> set[str]:
        return {v["key"] for v in services[kind]["envVars"] if v.get("sync") is False}

    storage = {"S3_BUCKET", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}
    assert prompted("web") == storage | {"API_TOKENS"}
    assert prompted("worker") == storage


def test_render_worker_finishes_within_renders_shutdown_delay():
    """Reference, `maxShutdownDelaySeconds`: SIGTERM, then SIGKILL after 30 s by default."""
    worker = render_services()["worker"]
    assert Settings().shutdown_timeout < worker.get("maxShutdownDelaySeconds", 30)


# --- the upload page's CORS default on the platforms ---


def test_app_json_asks_for_the_page_origin():
    app = json.loads((ROOT / "app.json").read_text())
    assert "CORS_ORIGINS" in app["env"]
    assert "runtime-dyno-metadata" in app["env"]["CORS_ORIGINS"]["description"]


def test_platform_variables_pdfq_reads_are_documented():
    text = (ROOT / "docs" / "configuration.md").read_text()
    for name in platform_names():
        assert f"`{name}`" in text, name


# --- dependencies: deploys install what CI tested, and no local-only tools ---


def requirements(name: str) -> list[Requirement]:
    lines = (ROOT / name).read_text().splitlines()
    return [Requirement(line) for line in lines if line and not line.startswith(("#", "-"))]


def lock() -> dict[str, str]:
    lines = (ROOT / "requirements.lock").read_text().splitlines()
    pins = (line.split("==") for line in lines if line and not line.startswith("#"))
    return {canonical(name): version for name, version in pins}


def test_runtime_requirements_leave_local_tools_out_and_bound_every_version():
    runtime = requirements("requirements.txt")
    assert "moto" not in {r.name for r in runtime}  # make run's local S3 only
    for requirement in runtime:
        assert any(s.operator == "<" for s in requirement.specifier), requirement
    local = {r.name for r in requirements("requirements-local.txt")}
    assert "moto" in local


def test_every_install_is_constrained_by_the_lock_and_the_lock_fits_the_ranges():
    assert "-c requirements.lock" in (ROOT / "requirements.txt").read_text().splitlines()
    # requirements-dev.txt reaches requirements.txt (and its -c) through requirements-local.
    assert "-r requirements-local.txt" in (ROOT / "requirements-dev.txt").read_text()
    assert "-r requirements.txt" in (ROOT / "requirements-local.txt").read_text()
    pins = lock()
    for name in ("requirements.txt", "requirements-local.txt", "requirements-dev.txt"):
        for requirement in requirements(name):
            version = pins[canonical(requirement.name)]
            assert requirement.specifier.contains(version), (requirement, version)


def test_docker_image_installs_the_runtime_set_from_the_lock():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "COPY requirements.txt requirements.lock ./" in dockerfile
    assert "pip install -r requirements.txt" in dockerfile
    assert "requirements-local" not in dockerfile and "requirements-dev" not in dockerfile


def test_makefile_installs_without_testing_and_rewrites_the_lock():
    makefile = (ROOT / "Makefile").read_text()
    for target in ("install:", "lock:", "cli:", "run:"):
        assert f"\n{target}" in makefile, target
    assert "tools/lock.py" in makefile


# --- Compose ---


def test_compose_waits_for_a_healthy_store_and_publishes_on_loopback_only():
    services = compose()["services"]
    assert "healthcheck" in services["s3"]
    assert services["release"]["depends_on"]["s3"]["condition"] == "service_healthy"
    assert services["release"]["depends_on"]["redis"]["condition"] == "service_healthy"
    assert services["s3"].get("image") != "pdfq"  # the pdfq image carries no moto
    for name, service in services.items():
        for port in service.get("ports", []):
            assert port.startswith("127.0.0.1:"), (name, port)
    assert "health/live" in " ".join(services["web"]["healthcheck"]["test"])
    origins = services["web"]["environment"]["CORS_ORIGINS"].split(",")
    assert "http://127.0.0.1:8000" in origins


def test_compose_persistent_store_replaces_s3_with_a_volume():
    header = (ROOT / "docker-compose.yml").read_text()
    assert "-f docker-compose.yml -f docker-compose.minio.yml" in header
    override = yaml.safe_load((ROOT / "docker-compose.minio.yml").read_text())
    s3 = override["services"]["s3"]
    assert any(volume.endswith(":/data") for volume in s3["volumes"])
    assert "healthcheck" in s3
    assert set(override["volumes"]) == {"s3-data"}
    # The same credentials pdfq's services use.
    pdfq_env = compose()["services"]["web"]["environment"]
    assert s3["environment"]["MINIO_ROOT_USER"] == pdfq_env["AWS_ACCESS_KEY_ID"]
    assert s3["environment"]["MINIO_ROOT_PASSWORD"] == pdfq_env["AWS_SECRET_ACCESS_KEY"]


# --- gunicorn behind a router ---


def gunicorn_config() -> dict:
    namespace: dict = {}
    exec((ROOT / "gunicorn.conf.py").read_text(), namespace)  # noqa: S102 - our own file
    return namespace


def test_gunicorn_keeps_idle_connections_longer_than_the_routers():
    assert gunicorn_config()["keepalive"] > 90  # Heroku's router keeps them 90 s


def test_gunicorn_trusts_no_forwarded_header_itself_and_starts_web_concurrency_workers():
    config = gunicorn_config()
    assert config["forwarded_allow_ips"] == ""  # PROXY_HOPS decides (functions/headers.py)
    assert config["workers"] == Settings().web_concurrency == 2
    docs = (ROOT / "docs" / "configuration.md").read_text()
    assert "| `WEB_CONCURRENCY` | `2` |" in docs


def test_flaskenv_names_the_app_so_flask_pdf_needs_no_app_option():
    assert "FLASK_APP=functions" in (ROOT / ".flaskenv").read_text().splitlines()
    env = {k: v for k, v in os.environ.items() if k not in ("FLASK_APP",)}
    result = subprocess.run(
        [str(BIN / "flask"), "pdf", "--help"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert "Submit PDFs" in result.stdout


def test_readme_activates_the_virtualenv_before_its_flask_commands():
    """The system's `flask` lacks pdfq's packages (No module named 'redis')."""
    readme = (ROOT / "README.md").read_text()
    first_flask = readme.index("flask --app functions pdf submit")
    assert readme.rfind(". .venv/bin/activate", 0, first_flask) > readme.rfind(
        "```", 0, first_flask
    )


# --- the guides say what the files do ---


def test_guides_name_the_signal_and_grace_the_configs_use():
    config = configparser.ConfigParser(inline_comment_prefixes=(";",))
    config.read(ROOT / "deploy" / "supervisor" / "pdfq.conf")
    worker = config["program:pdfq-worker"]
    supervisor_doc = (ROOT / "docs" / "deploy-supervisor.md").read_text()
    assert f"stops with SIG{worker['stopsignal']}" in supervisor_doc
    assert f"{worker['stopwaitsecs']} s (`stopwaitsecs`)" in supervisor_doc
    docker_doc = (ROOT / "docs" / "deploy-docker.md").read_text()
    assert f"stopped with {compose()['services']['worker']['stop_signal']}" in docker_doc
    for guide in ("deploy-docker.md", "deploy-supervisor.md", "deploy-heroku.md"):
        assert "SIGINT" not in (ROOT / "docs" / guide).read_text(), guide


def test_guides_install_without_running_the_tests_and_bind_local_servers_to_loopback():
    for guide in sorted((ROOT / "docs").glob("deploy-*.md")):
        text = guide.read_text()
        assert "make test " not in text and "`make test`" not in text, guide.name
        for line in text.splitlines():
            if line.startswith("redis-server"):
                assert "--bind 127.0.0.1" in line, (guide.name, line)


def test_no_guide_throws_away_the_only_copy_of_a_new_token():
    """`token new` prints the token once (pdfq keeps its hash only): a guide's command that
    feeds its output into a command substitution or a pipe keeps the entry, loses the token."""
    guides = [*(ROOT / "docs").glob("*.md"), ROOT / "README.md"]
    for path in guides:
        for block in re.findall(r"```(?:sh)?\n(.*?)```", path.read_text(), re.S):
            for command in re.findall(r"[^\n]*token new[^\n]*", block):
                wasted = re.search(r"\$\([^)]*token new|token new[^#\n]*\|", command)
                assert not wasted, (path.name, command)


def test_pip_install_of_the_checkout_leaves_nothing_git_would_add():
    """`pip install .` (the client, docs/client.md) builds in build/ and writes
    pdfq.egg-info beside the sources."""
    for path in ("build/lib/client/__init__.py", "pdfq.egg-info/PKG-INFO", "dist/pdfq.whl"):
        ignored = subprocess.run(["git", "check-ignore", "-q", path], cwd=ROOT)
        assert ignored.returncode == 0, f"{path} is not ignored (.gitignore)"
