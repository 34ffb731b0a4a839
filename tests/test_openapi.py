"""The OpenAPI document (functions/openapi.json) is valid, complete and true.

Complete: every route under the API prefix is in it with its methods, and nothing else; every
status and error code docs/api.md lists is in it. True: schemathesis drives the live service
(gunicorn, huey_consumer, Redis, moto S3) from the document and finds no 5xx and no answer
(status, content type, body, headers) that the document does not describe.
"""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import jsonschema
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from openapi_spec_validator import validate
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from core.errors import PdfqError
from engines.base import DOCUMENT_WARNINGS, OCR_WARNING, STRUCTURE_WARNINGS
from functions import API_PREFIX
from functions.error_handlers import _HTTP_CODES
from tests.support.openapi_seed import SEEDED_STATES, TOKEN, seed_jobs, small_pdf
from tests.support.servers import free_port
from tests.support.stack import Stack

ROOT = Path(__file__).resolve().parent.parent
DOC_URL = f"{API_PREFIX}/openapi.json"
HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}


def spec() -> dict:
    return json.loads((ROOT / "functions" / "openapi.json").read_text())


def test_served_document_is_valid_openapi_and_needs_no_token(client):
    response = client.get(DOC_URL)  # no Authorization header: it is public, like /health
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    served = response.get_json()
    validate(served)  # raises on anything that is not valid OpenAPI 3.1
    assert served == spec()
    assert served["security"] == [{"bearerAuth": []}]
    public = {
        path for path, item in served["paths"].items() if item.get("get", {}).get("security") == []
    }
    assert public == {"/health", "/health/live", "/openapi.json"}


def _flask_routes(app) -> set[tuple[str, str]]:
    routes = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(API_PREFIX + "/"):
            continue
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule.removeprefix(API_PREFIX))
        routes |= {(path, m) for m in rule.methods - {"HEAD", "OPTIONS"}}
    return routes


def _spec_routes(document: dict) -> set[tuple[str, str]]:
    return {
        (path, method.upper())
        for path, item in document["paths"].items()
        for method in item
        if method in HTTP_METHODS
    }


def test_every_api_route_is_documented_and_every_documented_route_is_served(app):
    served, documented = _flask_routes(app), _spec_routes(spec())
    assert served - documented == set(), "served but not in functions/openapi.json"
    assert documented - served == set(), "documented but not served"


def _doc_tables() -> list[tuple[str, list[str], list[list[str]]]]:
    """(section heading, header cells, rows) of every table in docs/api.md."""
    tables, heading, rows = [], "", None
    for line in (ROOT / "docs" / "api.md").read_text().splitlines() + [""]:
        if line.startswith("#"):
            heading = line.lstrip("#").strip()
        if line.startswith("|"):
            cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
            if rows is None:
                rows = [cells]
            elif not set("".join(cells)) <= set("-: "):
                rows.append(cells)
        elif rows is not None:
            tables.append((heading, rows[0], rows[1:]))
            rows = None
    return tables


def _codes(cell: str) -> set[str]:
    return set(re.findall(r"`([a-z_]+)`", cell))


def test_every_status_and_error_code_in_the_api_docs_is_in_the_document():
    document = spec()
    schemas = document["components"]["schemas"]
    api_codes, job_codes = set(schemas["ErrorCode"]["enum"]), set(schemas["JobErrorCode"]["enum"])
    operations = {
        f"{method.upper()} {re.sub(r'{[^}]+}', '{}', path)}": op
        for path, item in document["paths"].items()
        for method, op in item.items()
        if method in HTTP_METHODS
    }
    checked = 0
    for heading, header, rows in _doc_tables():
        if header[:2] == ["status", "code"]:
            # A table under an operation's heading, or one for every operation (auth, limits).
            operation = operations.get(re.sub(r"{[^}]+}", "{}", heading))
            for status, code, *_ in rows:
                answering = [operation] if operation else operations.values()
                assert any(status in op["responses"] for op in answering), (heading, status)
                assert _codes(code) <= api_codes, (heading, code)
                checked += 1
        elif header[:2] == ["code", "meaning"]:  # why a job failed
            for code, *_ in rows:
                assert _codes(code) <= job_codes, code
                checked += 1
    assert checked > 40  # the tables were found


def _raised_codes() -> set[str]:
    """Every error code the app can answer: its error classes, Flask's, and literal ones."""
    import functions.idempotency  # noqa: F401 - defines its own PdfqError subclasses

    classes, codes = [PdfqError], set(_HTTP_CODES.values())
    while classes:
        cls = classes.pop()
        codes.add(cls.code)
        classes += cls.__subclasses__()
    for source in (ROOT / "functions").glob("*.py"):
        codes |= set(re.findall(r'error_response\(\s*\d+,\s*"([a-z_]+)"', source.read_text()))
    return codes


def test_every_error_code_in_the_document_is_one_the_app_raises():
    schemas = spec()["components"]["schemas"]
    raised = _raised_codes()
    assert set(schemas["ErrorCode"]["enum"]) <= raised
    assert set(schemas["JobErrorCode"]["enum"]) <= raised


def test_a_job_s_warnings_schema_takes_every_warning_the_worker_gives():
    warning = spec()["components"]["schemas"]["Job"]["properties"]["warnings"]["items"]
    given = ("no_text_layer", "garbled_text", "truncated", *STRUCTURE_WARNINGS, *DOCUMENT_WARNINGS)
    for name in given:
        jsonschema.validate(name, warning)
    jsonschema.validate(f"{OCR_WARNING}12", warning)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate("ocr_pages:many", warning)


# --- schemathesis against the live service ---

# Loaded from the file, which the first test proves is what the service serves. (Not
# schemathesis.pytest.from_fixture: its lazy schemas need pytest's Node._nodeid, gone in 9.2.)
openapi = schemathesis.openapi.from_path(ROOT / "functions" / "openapi.json")
# Beside "no 5xx": the status, media type, body and headers of every answer are documented.
CHECKS = [
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]
SEEDED: list[str] = []  # job ids the `live` fixture creates, one per SEEDED_STATES
UNKNOWN_ID = "0" * 32


def _seeded(index: int) -> dict:
    # Explicit examples are drawn at collection, before `live` has seeded anything.
    return {"job_id": SEEDED[index] if SEEDED else UNKNOWN_ID}


@openapi.hook
def before_generate_path_parameters(context, strategy):
    # Many ids name real jobs (succeeded, failed, scheduled, canceled, awaiting upload),
    # the rest are generated (mostly 404s). DELETE erases only the job seeded for it (then
    # answers 410), so every other operation keeps its jobs.
    doomed = len(SEEDED_STATES) - 1
    if "{batch_id}" in context.operation.path:  # no batch is seeded: generated ids (404)
        return strategy
    if context.operation.method.upper() == "DELETE":
        return st.one_of(st.just(doomed).map(_seeded), strategy)
    seeded = st.integers(0, doomed - 1).map(_seeded)
    if "{page}" in context.operation.path:  # a page image: pages 0 (none) to 3 of real jobs
        seeded = st.tuples(seeded, st.integers(0, 3)).map(lambda s: {**s[0], "page": s[1]})
    return st.one_of(seeded, strategy)


@openapi.hook
def before_generate_body(context, strategy):
    if context.operation.path != "/documents":
        return strategy
    # Random bytes are never a PDF (415): some cases send a real one and reach 202.
    return st.one_of(strategy.map(_with_real_pdf), strategy)


def _with_real_pdf(body):
    # A body with source_url or source (every JSON one) names its PDF; a form without gets one.
    if not isinstance(body, dict) or "source_url" in body or "source" in body:
        return body
    return {**body, "file": small_pdf()}


@pytest.fixture(scope="module")
def live(redis_server, moto_server, tmp_path_factory):
    """The Procfile's web and worker with tokens on, and jobs in every kind of state, so job
    operations reach past 404."""
    stack = Stack(
        redis_server.url,
        moto_server,
        tmp_path_factory.mktemp("openapi"),
        PDFQ_ENV="development",
        API_TOKENS=f"acme:{TOKEN}",
        # The same bearer for the S3 event webhook, so fuzzed events get past its check.
        EVENTS_WEBHOOK_SECRET=TOKEN,
        OPTIONS_SECRET="openapi-test-options-secret",
        HUEY_WORKERS="1",
        EVENTS_WINDOW_SECONDS="1",  # an event stream of a job still waiting ends soon
    )
    try:
        SEEDED[:] = seed_jobs(stack)
        yield stack
    finally:
        stack.stop()


@pytest.mark.e2e
@openapi.parametrize()
@settings(
    max_examples=25,
    derandomize=True,  # the same cases on every run, so CI is repeatable
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_live_service_answers_as_the_document_says(case, live):
    case.call_and_validate(
        base_url=live.base + API_PREFIX,
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=30,
        checks=[not_a_server_error, *CHECKS],
    )


@pytest.mark.parametrize(
    ("path", "method", "body"),
    [
        ("/jobs", "GET", None),
        ("/jobs/{job_id}", "GET", None),
        ("/jobs/{job_id}", "DELETE", None),
        ("/jobs/{job_id}/cancel", "POST", None),
        ("/jobs/{job_id}/reprocess", "POST", {}),
        ("/uploads", "POST", {"filename": "a.pdf", "content_type": "application/pdf"}),
        ("/health", "GET", None),
    ],
)
def test_answers_with_storage_down_are_documented(client, configure, path, method, body):
    """The fuzz run never sees storage down: its 503s (with Retry-After) are checked here."""
    configure(S3_ENDPOINT_URL=f"http://127.0.0.1:{free_port()}")  # nothing listens there
    operation = openapi[path][method]
    case = operation.Case(path_parameters={"job_id": UNKNOWN_ID} if "{" in path else {})
    url = API_PREFIX + path.replace("{job_id}", UNKNOWN_ID)
    response = client.open(url, method=method, json=body)
    assert response.status_code == 503, response.get_json()
    case.validate_response(response, checks=CHECKS)


def _secured_operations():
    """(path, METHOD) of every operation the document says needs the bearer token."""
    for path, item in spec()["paths"].items():
        for method, operation in item.items():
            # The public ones (and /events/s3, with its own secret) override `security`.
            if method in HTTP_METHODS and "security" not in operation:
                yield path, method.upper()


@pytest.mark.env(API_TOKENS=f"acme:{TOKEN}")
@pytest.mark.parametrize(("path", "method"), sorted(_secured_operations()))
@pytest.mark.parametrize("authorization", [None, "Bearer not-a-token-anyone-was-given-0000"])
def test_answers_without_a_valid_token_are_documented(client, path, method, authorization):
    """The fuzz run always sends the token: its 401s are checked here, for every operation."""
    name = "batch_id" if "{batch_id}" in path else "job_id"
    parameters = {name: UNKNOWN_ID, **({"page": 1} if "{page}" in path else {})}
    case = openapi[path][method].Case(path_parameters=parameters)
    headers = {"Authorization": authorization} if authorization else {}
    url = API_PREFIX + path.replace(f"{{{name}}}", UNKNOWN_ID).replace("{page}", "1")
    response = client.open(url, method=method, headers=headers)
    assert response.status_code == 401, response.get_json()
    case.validate_response(response, checks=CHECKS)


@pytest.mark.parametrize(
    ("path", "method", "body"),
    [
        ("/uploads", "POST", {"filename": "a.pdf", "content_type": "application/pdf"}),
        ("/jobs/{job_id}/reprocess", "POST", {}),
    ],
)
def test_answers_over_the_tenants_limit_are_documented(client, configure, path, method, body):
    """429 with Retry-After, as the document says; the fuzz run never reaches the limit."""
    done = client.post(
        f"{API_PREFIX}/documents", data={"file": (io.BytesIO(small_pdf()), "a.pdf")}
    ).get_json()["id"]
    configure(TENANT_MAX_JOBS_IN_FLIGHT="1")
    filler = {"filename": "a.pdf", "content_type": "application/pdf"}
    assert client.post(f"{API_PREFIX}/uploads", json=filler).status_code == 201
    case = openapi[path][method].Case(path_parameters={"job_id": done})
    response = client.open(API_PREFIX + path.replace("{job_id}", done), method=method, json=body)
    assert response.status_code == 429, response.get_json()
    case.validate_response(response, checks=CHECKS)
