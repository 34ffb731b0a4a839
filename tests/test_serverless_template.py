"""deploy/aws-sam: the SAM template is valid (cfn-lint, with the SAM transform), names handlers
that exist, gives them settings pdfq knows, and wires the bucket's notifications to the keys
the events handler takes; its Dockerfile copies packages that exist."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import subprocess
import sys
from importlib import import_module
from pathlib import Path

import pytest
from cfnlint import api as cfn_lint
from cfnlint.decode import decode
from packaging.requirements import Requirement

from core import keys
from core.settings import load_settings
from tests.support.servers import ROOT

FOLDER = ROOT / "deploy" / "aws-sam"
TEMPLATE = FOLDER / "template.yaml"


@pytest.fixture(scope="module")
def template() -> dict:
    parsed, errors = decode(str(TEMPLATE))
    assert errors == []
    return parsed


def functions(template: dict) -> dict[str, dict]:
    return {
        name: resource["Properties"]
        for name, resource in template["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
    }


def test_cfn_lint_finds_nothing():
    matches = cfn_lint.lint_file(TEMPLATE)
    assert [str(match) for match in matches] == []


def test_each_function_names_a_handler_that_exists(template):
    handlers = {}
    for name, properties in functions(template).items():
        assert properties["PackageType"] == "Image"
        (target,) = properties["ImageConfig"]["Command"]
        module, _, attribute = target.rpartition(".")
        assert callable(getattr(import_module(module), attribute)), target
        handlers[name] = target
    assert handlers == {
        "HttpFunction": "functions.serverless.handler",
        "EventsFunction": "functions.events.handler",
    }


def test_the_http_function_takes_payload_format_2(template):
    (event,) = functions(template)["HttpFunction"]["Events"].values()
    assert event["Type"] == "HttpApi"
    assert event["Properties"]["PayloadFormatVersion"] == "2.0"


def test_the_bucket_announces_new_sources_and_inbox_files_to_the_events_function(template):
    rules = {}
    for event in functions(template)["EventsFunction"]["Events"].values():
        assert event["Type"] == "S3"
        assert event["Properties"]["Bucket"] == {"Ref": "Bucket"}
        assert event["Properties"]["Events"] == "s3:ObjectCreated:*"
        filters = event["Properties"]["Filter"]["S3Key"]["Rules"]
        found = {rule["Name"]: rule["Value"] for rule in filters}
        rules[found["prefix"]] = found.get("suffix")
    assert rules == {keys.SOURCES_PREFIX: ".pdf", keys.INBOX_PREFIX: None}
    assert keys.parse_source_key(f"{keys.SOURCES_PREFIX}acme/{'0' * 32}.pdf")


def test_the_functions_settings_are_pdfqs_and_load(template):
    variables = template["Globals"]["Function"]["Environment"]["Variables"]
    example = (ROOT / ".env.example").read_text()
    for name in variables:
        assert re.search(rf"^#?\s*{name}=", example, re.M), f"{name} is not a pdfq setting"
    literal = {k: v for k, v in variables.items() if isinstance(v, str)}
    settings = load_settings({**literal, "API_TOKENS": "acme:sha256:" + "0" * 64})
    assert settings.environment == "production"
    assert str(settings.data_dir).startswith("/tmp/")


def dockerfile_steps() -> list[tuple[str, str]]:
    """The Dockerfile's instructions as (INSTRUCTION, arguments), comments left out."""
    lines = (FOLDER / "Dockerfile").read_text().splitlines()
    steps = (line.split(" ", 1) for line in lines if line.strip() and not line.startswith("#"))
    return [(word, rest) for word, rest in steps]


def base_python(steps: list[tuple[str, str]]) -> str:
    """The Python version of the image's AWS Lambda base (FROM .../lambda/python:3.13)."""
    (image,) = [rest for word, rest in steps if word == "FROM"]
    match = re.fullmatch(r"public\.ecr\.aws/lambda/python:(\d+\.\d+)", image)
    assert match, image
    return match[1]


# AWS's Python runtimes and the dates Lambda deprecates them (docs.aws.amazon.com/lambda/latest
# /dg/lambda-runtimes.html, "Supported runtimes"): python3.11 on 2026-06-30. A base image past
# its date gets no more security patches, and later functions on it can no longer be updated.
DEPRECATION = {
    "3.11": dt.date(2026, 6, 30),
    "3.12": dt.date(2028, 10, 31),
    "3.13": dt.date(2029, 6, 30),
    "3.14": dt.date(2029, 6, 30),
}


def test_the_image_is_on_a_python_base_lambda_still_supports(template):
    python = base_python(dockerfile_steps())
    assert dt.date.today() < DEPRECATION[python], f"python{python} is deprecated on Lambda"
    for name in functions(template):
        metadata = template["Resources"][name]["Metadata"]
        assert metadata["DockerTag"].startswith(f"python{python}-"), metadata


def test_the_image_copies_packages_that_exist_and_defaults_to_the_http_handler(template):
    steps = dockerfile_steps()
    copied = [source for word, rest in steps if word == "COPY" for source in rest.split()[:-1]]
    for name in copied:
        assert (ROOT / name).exists(), name
    assert {"core", "engines", "consumer", "functions", "infra"} <= set(copied)
    assert ("CMD", '["functions.serverless.handler"]') in steps
    metadata = template["Resources"]["HttpFunction"]["Metadata"]
    assert (FOLDER / metadata["DockerContext"] / metadata["Dockerfile"]).resolve() == (
        FOLDER / "Dockerfile"
    )


def test_the_functions_requirements_are_the_webs_share_of_the_runtime_ones():
    """Each is requirements.txt's line for that package (one range, never two), and none
    is the worker's: no extraction engine, no OCR (tesserocr has no wheel for AWS's base
    images and builds from source without Tesseract's headers)."""
    runtime = {r.name: r for r in requirements(ROOT / "requirements.txt")}
    functions_only = requirements(FOLDER / "requirements.txt")
    for requirement in functions_only:
        assert str(runtime[requirement.name]) == str(requirement), requirement
    names = {r.name for r in functions_only}
    assert not names & {"tesserocr", "pdfminer.six", "pypdfium2", "moto"}, names


def requirements(path: Path) -> list[Requirement]:
    lines = (line.split("#")[0].strip() for line in path.read_text().splitlines())
    return [Requirement(line) for line in lines if line and not line.startswith("-")]


def manylinux_platforms(glibc_minor: int) -> list[str]:
    """pip's --platform values a glibc 2.<glibc_minor> x86_64 system installs wheels for."""
    tags = [f"manylinux_2_{minor}_x86_64" for minor in range(5, glibc_minor + 1)]
    return tags + ["manylinux2014_x86_64", "manylinux2010_x86_64", "manylinux1_x86_64"]


@pytest.mark.integration  # pip reaches the package index
def test_every_requirement_has_a_wheel_for_the_images_python_and_glibc(tmp_path):
    """AWS's Python 3.12+ bases are Amazon Linux 2023 (glibc 2.34): a package without a wheel
    for that Python and glibc would build from source in the image, where no compiler and no
    library headers are."""
    python = base_python(dockerfile_steps())
    command = [sys.executable, "-m", "pip", "install", "--dry-run", "--quiet", "--ignore-installed"]
    command += ["--only-binary=:all:", "--python-version", python, "--implementation", "cp"]
    for platform in manylinux_platforms(34):
        command += ["--platform", platform]
    command += ["--target", str(tmp_path / "target"), "--report", str(tmp_path / "report.json")]
    command += ["-r", str(FOLDER / "requirements.txt"), "-c", str(ROOT / "requirements.lock")]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    installs = json.loads((tmp_path / "report.json").read_text())["install"]
    assert {item["metadata"]["name"].lower() for item in installs} >= {"flask", "boto3"}


@pytest.mark.integration  # pip reaches the package index
def test_the_image_builds_from_the_files_sam_copies_and_its_handlers_answer(tmp_path):
    """The Dockerfile's COPY and RUN steps, in order, into a folder standing for
    LAMBDA_TASK_ROOT (sam build runs them in Docker, with the repository as the context;
    no Docker engine here): then the handlers import from that folder alone and answer."""
    task_root = tmp_path / "var" / "task"
    task_root.mkdir(parents=True)
    tools = tmp_path / "bin"  # `pip` of the image: this Python's, as a command
    tools.mkdir()
    (tools / "pip").write_text(f'#!/bin/sh\nexec "{sys.executable}" -m pip "$@"\n')
    (tools / "pip").chmod(0o755)
    env = {"LAMBDA_TASK_ROOT": str(task_root), "PATH": f"{tools}:{os.environ['PATH']}"}
    env["HOME"] = str(tmp_path)
    for word, rest in dockerfile_steps():
        expanded = rest.replace("${LAMBDA_TASK_ROOT}", str(task_root))
        if word == "COPY":
            *sources, destination = expanded.split()
            for source in sources:
                if (ROOT / source).is_dir():
                    shutil.copytree(ROOT / source, destination, dirs_exist_ok=True)
                else:
                    shutil.copy(ROOT / source, destination)
        elif word == "RUN":
            done = subprocess.run(
                ["sh", "-c", rest], env=env, capture_output=True, text=True, timeout=600
            )
            assert done.returncode == 0, done.stderr[-3000:]
    # -S: no site-packages, so nothing of this virtualenv is found; only the stdlib and the
    # task root, as in Lambda's Python.
    probe = f"""
import json, sys
sys.path.insert(0, {str(task_root)!r})
import functions.events, functions.serverless
event = {{"version": "2.0", "routeKey": "$default", "rawPath": "/api/v1/pdf/health/live",
          "rawQueryString": "", "headers": {{"host": "x.example"}}, "isBase64Encoded": False,
          "requestContext": {{"http": {{"method": "GET", "path": "/api/v1/pdf/health/live",
          "sourceIp": "192.0.2.1", "protocol": "HTTP/1.1"}}, "stage": "$default"}}}}
answer = functions.serverless.handler(event)
outside = sorted({{m.__file__ for m in list(sys.modules.values())
                  if getattr(m, "__file__", None) and "site-packages" in m.__file__}})
print(json.dumps({{"status": answer["statusCode"], "outside": outside}}))
"""
    settings = {"PDFQ_ENV_FILE": "", "API_TOKENS": "acme:sha256:" + "0" * 64}
    settings.update({"S3_BUCKET": "pdfq", "AWS_DEFAULT_REGION": "us-east-1", "LOG_LEVEL": "error"})
    settings["PDFQ_DATA_DIR"] = str(tmp_path / "data")
    done = subprocess.run(
        [sys.executable, "-S", "-c", probe],
        env={**settings, "PATH": os.environ["PATH"], "HOME": str(tmp_path)},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    found = json.loads(done.stdout.splitlines()[-1])
    assert found == {"status": 200, "outside": []}, found


def test_the_worker_policy_lets_a_failed_multipart_upload_be_aborted(template):
    """Storage.upload_file streams anything over 8 MB as a multipart upload (boto3's
    upload_fileobj), which aborts its parts when a part fails: without
    s3:AbortMultipartUpload the abort is refused and the parts stay, billed, until the
    bucket's one-day rule (infra/bucket.py) removes them."""
    (statement,) = template["Resources"]["WorkerPolicy"]["Properties"]["PolicyDocument"][
        "Statement"
    ]
    assert statement["Effect"] == "Allow"
    actions = set(statement["Action"])
    assert {"s3:PutObject", "s3:AbortMultipartUpload", "s3:GetObject", "s3:DeleteObject"} <= actions
