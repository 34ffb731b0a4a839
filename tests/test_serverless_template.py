"""deploy/aws-sam: the SAM template is valid (cfn-lint, with the SAM transform), names handlers
that exist, gives them settings pdfq knows, and wires the bucket's notifications to the keys
the events handler takes; its Dockerfile copies packages that exist."""

from __future__ import annotations

import re
from importlib import import_module

import pytest
from cfnlint import api as cfn_lint
from cfnlint.decode import decode

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


def test_the_image_copies_packages_that_exist_and_defaults_to_the_http_handler(template):
    dockerfile = (FOLDER / "Dockerfile").read_text()
    copied = re.findall(r"^COPY (\S+) ", dockerfile, re.M)
    assert copied[0] == "requirements.txt"
    for name in copied:
        assert (ROOT / name).exists(), name
    assert {"core", "engines", "consumer", "functions", "infra"} <= set(copied)
    assert 'CMD ["functions.serverless.handler"]' in dockerfile
    metadata = template["Resources"]["HttpFunction"]["Metadata"]
    assert (FOLDER / metadata["DockerContext"] / metadata["Dockerfile"]).resolve() == (
        FOLDER / "Dockerfile"
    )
