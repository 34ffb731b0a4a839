"""Logs (core/logs.py): JSON or text lines that carry the job id they are about, secrets
redacted from every line, and Huey's own lines formatted and tagged the same way."""

import io
import json
import logging

import pytest

from core import logs
from core.adapters.queue import EXTRACT_DOCUMENT
from core.errors import StorageUnavailable
from core.settings import load_settings
from functions.auth import startup_check
from tests.conftest import started
from tests.support.corpus import GOOD
from tests.support.jobs import stored_job


@pytest.fixture
def captured():
    """A 'pdfq.test' logger writing through a handler prepared as pdfq prepares its own."""

    def make(log_format: str = "json") -> tuple[logging.Logger, io.StringIO]:
        stream = io.StringIO()
        handler = logging.StreamHandler(stream)
        logs.prepare(handler, load_settings({"LOG_FORMAT": log_format}))
        logger = logging.getLogger(f"pdfq.test.{log_format}")
        logger.handlers[:] = [handler]
        logger.propagate = False
        logger.setLevel(logging.INFO)
        return logger, stream

    return make


def lines(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_json_lines_carry_the_bound_job_id_and_only_inside_the_block(captured):
    logger, stream = captured("json")
    logger.info("before")
    with logs.job_context("3f0c5b0b9d2a4c4e8f1e2d3c4b5a6978"):
        logger.info("inside %s", "the job")
    logger.info("after")
    before, inside, after = lines(stream)
    assert "job_id" not in before and "job_id" not in after
    assert inside["job_id"] == "3f0c5b0b9d2a4c4e8f1e2d3c4b5a6978"
    assert inside["message"] == "inside the job"
    assert inside["level"] == "info"
    assert inside["logger"] == "pdfq.test.json"


def test_extra_fields_and_exceptions_become_json_fields(captured):
    logger, stream = captured("json")
    try:
        raise ValueError("boom")
    except ValueError:
        logger.exception("failed", extra={"status": 503})
    [line] = lines(stream)
    assert line["status"] == 503
    assert "ValueError: boom" in line["exception"]


def test_text_format_is_readable_and_names_the_job(captured):
    logger, stream = captured("text")
    with logs.job_context("ab" * 16):
        logger.info("processing")
    text = stream.getvalue()
    assert f"INFO pdfq.test.text [job {'ab' * 16}] processing" in text
    assert not text.startswith("{")


@pytest.mark.parametrize(
    ("secret", "kept"),
    [
        ("redis://:hunter2@redis.example:6379/0", "redis://:***@redis.example:6379/0"),
        ("rediss://default:hunter2@ec2.example:12345", "rediss://default:***@ec2.example:12345"),
        ("key AKIAIOSFODNN7EXAMPLE used", "key AKIA*** used"),
        (
            "AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            "AWS_SECRET_ACCESS_KEY=***",
        ),
        (
            "https://b.s3.amazonaws.com/k.pdf?X-Amz-Credential=AKIAX%2F20261128&X-Amz-Signature=9f8e7d",
            "https://b.s3.amazonaws.com/k.pdf?X-Amz-Credential=***&X-Amz-Signature=***",
        ),
        ('{"x-amz-signature": "9f8e7d6c"}', '{"x-amz-signature": "***"}'),
        ("Authorization: Bearer s3cr3t-token", "Authorization: Bearer ***"),
        ("Authorization: Basic dXNlcjpwYXNz", "Authorization: Basic ***"),
        ("API_TOKENS=acme:tok-1234567890,beta:tok-0987654321", "API_TOKENS=***"),
        ("Pdfq-Signature: t=1764300000,v1=9f8e7d6c5b4a39281706", "Pdfq-Signature: ***"),
        ("v1=9f8e7d6c5b4a39281706f5e4d3c2b1a0 in a retry", "v1=*** in a retry"),
        ("https://hooks.example/p?sig=s3cr3t&x=1", "https://hooks.example/p?sig=***&x=1"),
        ("passwd=hunter2 api_key=abc123", "passwd=*** api_key=***"),
        ("pasted pdfq_yOBHKy3bqkOKGK0XnQSzcnwOr6I-QmjLJU_G1Mj9XNQ here", "pasted pdfq_*** here"),
    ],
)
def test_secrets_never_reach_a_log_line(captured, secret, kept):
    for log_format in ("json", "text"):
        logger, stream = captured(log_format)
        logger.warning("connecting with %s", secret)
        written = stream.getvalue()
        assert kept in (json.loads(written)["message"] if log_format == "json" else written)


def test_a_json_line_with_secrets_in_it_stays_one_valid_line(captured):
    logger, stream = captured("json")
    logger.warning('token="abc" and password: "hunter2"')
    logger.warning("counted", extra={"tokens": 3, "next": "kept", "password": "hunter2"})
    logger.warning("nested", extra={"headers": {"Authorization": "Bearer s3cr3t", "n": 1}})
    quoted, counted, nested = lines(stream)  # each line parses, whole
    assert quoted["message"] == 'token="***" and password: "***"'
    assert (counted["tokens"], counted["next"], counted["password"]) == (3, "kept", "***")
    assert nested["headers"] == {"Authorization": "***", "n": 1}
    assert "abc" not in stream.getvalue() and "hunter2" not in stream.getvalue()
    assert "s3cr3t" not in stream.getvalue()


def test_a_fix_hint_keeps_its_placeholders_readable(captured):
    problem, _ = startup_check(load_settings({"PDFQ_ENV": "production"}))
    for log_format in ("json", "text"):
        logger, stream = captured(log_format)
        logger.error(problem)
        written = stream.getvalue()
        shown = json.loads(written)["message"] if log_format == "json" else written
        assert problem.split(": ", 1)[1] in shown  # the whole hint, nothing masked
    assert logs.redact("API_TOKENS=acme:<token>") == "API_TOKENS=***"


def test_ordinary_text_is_left_alone():
    for text in ("maxmemory-policy is allkeys-lru", "job 3f0c: 18 pages", "http://h:8000/a@b"):
        assert logs.redact(text) == text


def test_configure_reformats_existing_handlers_instead_of_adding_more():
    huey_logger = logging.getLogger("huey")
    saved = huey_logger.handlers[:], huey_logger.propagate
    try:
        own = logging.StreamHandler(io.StringIO())
        huey_logger.handlers[:] = [own]  # as huey_consumer leaves it
        logs.configure(load_settings({"LOG_FORMAT": "json"}))
        logs.configure(load_settings({"LOG_FORMAT": "json"}))
        assert huey_logger.handlers == [own]
        assert isinstance(own.formatter, logs.JsonFormatter)
        assert sum(isinstance(f, logs.JobIdFilter) for f in own.filters) == 1
    finally:
        huey_logger.handlers[:], huey_logger.propagate = saved


def test_log_level_applies_to_hueys_lines_too():
    huey_logger, consumer = logging.getLogger("huey"), logging.getLogger("huey.consumer")
    saved = huey_logger.level, consumer.level
    try:
        huey_logger.setLevel(logging.INFO)  # as huey_consumer leaves it
        logs.configure(load_settings({"LOG_LEVEL": "warning"}))
        assert not huey_logger.isEnabledFor(logging.INFO)  # no "Executing ..." per task
        assert huey_logger.isEnabledFor(logging.WARNING)
        # The consumer's start and stop lines stay.
        assert logging.getLogger("huey.consumer").isEnabledFor(logging.INFO)
        logs.configure(load_settings({"LOG_LEVEL": "info"}))
        assert huey_logger.isEnabledFor(logging.INFO)
    finally:
        huey_logger.setLevel(saved[0])
        consumer.setLevel(saved[1])


def test_every_huey_line_about_a_retried_task_names_its_job(services, monkeypatch):
    job = stored_job(services, GOOD / "pdfminer_jo.pdf")

    def down(*args, **kwargs):
        raise StorageUnavailable()

    monkeypatch.setattr(services.storage, "download_to", down)
    records: list[logging.LogRecord] = []
    collector = logging.Handler()
    collector.emit = records.append
    collector.addFilter(logs.JobIdFilter())
    huey_logger = logging.getLogger("huey")
    monkeypatch.setattr(huey_logger, "handlers", [collector])
    level = huey_logger.level
    huey_logger.setLevel(logging.INFO)  # (setLevel, not the attribute: it clears the cache)
    try:
        # Immediate Huey: the task runs inside enqueue, fails, and is scheduled for a retry.
        services.queue.enqueue(services.queue.task(EXTRACT_DOCUMENT, job.source_key))
    finally:
        huey_logger.setLevel(level)

    messages = {r.getMessage().split(" ")[0]: r for r in records}
    assert {"Executing", "Unhandled", "Requeueing"} <= set(messages)
    assert {r.job_id for r in records} == {job.id}


class _Refused(ConnectionError):
    """Stands for redis's ConnectionError: what a down Redis raises on every queue read."""


def test_a_repeated_connection_error_is_one_line_per_interval_with_a_count(captured):
    logger, stream = captured("json")
    for _ in range(500):
        try:
            raise _Refused("Error 111 connecting to 127.0.0.1:6379. Connection refused.")
        except _Refused:
            logger.exception("Error reading from queue")
    [line] = lines(stream)
    assert line["message"] == (
        "Error reading from queue (_Refused: Error 111 connecting to 127.0.0.1:6379. "
        "Connection refused.)"
    )
    assert "exception" not in line

    outage = logs.RepeatedOutages(interval=0.0)
    record = logging.makeLogRecord({"msg": "Error reading schedule.", "exc_info": None})
    record.exc_info = (_Refused, _Refused("down"), None)
    outage.filter(record)  # first: shown
    later = logging.makeLogRecord({"msg": "Error reading schedule."})
    later.exc_info = (_Refused, _Refused("down"), None)
    outage.interval = 3600  # everything until the interval ends is counted, not shown
    assert outage.filter(later) is False


def test_other_errors_keep_their_traceback(captured):
    logger, stream = captured("json")
    for _ in range(3):
        try:
            raise ValueError("a bug")
        except ValueError:
            logger.exception("Unhandled exception in task")
    assert [("exception" in line) for line in lines(stream)] == [True, True, True]


def test_lines_between_tasks_carry_no_job_id(s3, monkeypatch):
    # A consumer's queue (not immediate): whatever a task bound, the next queue read,
    # scheduler line or periodic task logs without it.
    monkeypatch.setenv("HUEY_IMMEDIATE", "false")
    services = started()
    job = stored_job(services, GOOD / "pdfminer_jo.pdf")
    seen = []
    services.huey.pre_execute("look")(lambda task: seen.append(logs._job_id.get()))
    leaked = logs.bind_job("f" * 32)  # as a task that never reached its post hook left it
    try:
        services.huey.execute(services.queue.task(EXTRACT_DOCUMENT, job.source_key))
        assert seen == [job.id]
        assert logs._job_id.get() is None
    finally:
        logs.unbind_job(leaked)


def test_a_task_ending_as_redis_goes_away_leaves_no_job_id_behind(s3, monkeypatch):
    # Huey deletes the task's revoke key before its post-execute hooks; with Redis down that
    # raises, the hooks never run, and the worker's next lines would carry this job's id.
    monkeypatch.setenv("HUEY_IMMEDIATE", "false")
    services = started()
    job = stored_job(services, GOOD / "pdfminer_jo.pdf")

    def redis_gone(*args, **kwargs):
        raise _Refused("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(services.huey, "delete", redis_gone)
    with pytest.raises(_Refused):
        services.huey.execute(services.queue.task(EXTRACT_DOCUMENT, job.source_key))
    assert logs._job_id.get() is None
