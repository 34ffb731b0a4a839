"""The client's parts in this process: PDFQ_URL and PDFQ_TOKEN, Retry-After, which requests
are retried, the streamed multipart body, the route a file takes, and that the package
stands alone (standard library only, nothing of pdfq's, declared as the `pdfq` command).

The command against the live stack: tests/test_client_e2e.py.
"""

from __future__ import annotations

import ast
import email.policy
import email.utils
import http.server
import io
import json
import os
import subprocess
import sys
import threading
import time
import tomllib
from importlib import import_module

import pytest

from client import connection, transport
from client.command import USAGE, batch_sources, exit_code, parser, pdf_files
from client.connection import ConfigurationError, Connection, UnsafeLink
from client.payloads import FormBody
from client.progress import Reporter
from client.service import DIRECT_MAX_BYTES, Client
from client.transport import ApiError, Retries, Unreachable
from tests.support.servers import ROOT
from tools import architecture


def test_pdfq_url_may_name_the_root_or_the_api_and_the_token_is_optional():
    for url in ("https://pdfq.example.com", "https://pdfq.example.com/api/v1/pdf/"):
        conn = connection.from_environment({"PDFQ_URL": url})
        assert conn.api == "https://pdfq.example.com/api/v1/pdf"
        assert conn.token is None
    conn = connection.from_environment({"PDFQ_URL": "http://h:8000", "PDFQ_TOKEN": " t "})
    assert conn.token == "t"
    assert conn.url("/jobs/1") == "http://h:8000/api/v1/pdf/jobs/1"
    assert (
        conn.url("/api/v1/pdf/uploads/1/complete") == "http://h:8000/api/v1/pdf/uploads/1/complete"
    )


@pytest.mark.parametrize("environ", [{}, {"PDFQ_URL": " "}, {"PDFQ_URL": "file:///etc/x"}])
def test_a_missing_or_odd_pdfq_url_is_a_configuration_error(environ):
    with pytest.raises(ConfigurationError, match="PDFQ_URL"):
        connection.from_environment(environ)


def test_retry_after_takes_seconds_or_an_http_date():
    assert transport.retry_after({"Retry-After": "10"}) == 10
    later = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 25 <= transport.retry_after({"Retry-After": later}) <= 30
    assert transport.retry_after({"Retry-After": "soon"}) is None
    assert transport.retry_after({}) is None


class Scripted(http.server.BaseHTTPRequestHandler):
    """Answers each request with the next (status, headers, body) of the server's script."""

    def do_GET(self):
        self.server.seen.append((self.command, self.path))
        self.server.tokens.append(self.headers.get("Authorization"))
        status, headers, body = self.server.script.pop(0)
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_POST = do_GET

    def log_message(self, *args):
        pass


def serve_script():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Scripted)
    server.script, server.seen, server.tokens = [], [], []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture
def scripted():
    server = serve_script()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def elsewhere():
    """A second scripted server: another origin (its own port) on the same machine."""
    server = serve_script()
    yield server
    server.shutdown()
    server.server_close()


def error(status: int, code: str, **headers) -> tuple:
    body = json.dumps({"error": {"code": code, "message": f"{code}!"}}).encode()
    return status, {"Content-Type": "application/json", **headers}, body


def test_429_and_503_are_retried_after_their_retry_after(scripted):
    scripted.script = [
        error(429, "too_many_jobs", **{"Retry-After": "10"}),
        error(503, "queue_full", **{"Retry-After": "30"}),
        error(503, "storage_unavailable"),
        (200, {"Content-Type": "application/json"}, b'{"id": "j"}'),
    ]
    slept, told = [], []
    retries = Retries(attempts=3, notify=told.append, sleep=slept.append)
    url = f"http://127.0.0.1:{scripted.server_port}/x"
    answer = transport.send("POST", url, body=b"{}", retries=retries)
    assert answer.json() == {"id": "j"}
    assert slept == [10, 30, 4]  # no Retry-After: 1, 2, 4... seconds by the try
    assert told[0] == "429 too_many_jobs; trying again in 10 s (1/3)"


def test_after_the_last_retry_the_error_is_raised_and_4xx_is_never_retried(scripted):
    url = f"http://127.0.0.1:{scripted.server_port}/x"
    scripted.script = [error(429, "too_many_jobs", **{"Retry-After": "1"})] * 2
    with pytest.raises(ApiError) as raised:
        transport.send("GET", url, retries=Retries(attempts=1, sleep=lambda s: None))
    assert (raised.value.status, raised.value.code, raised.value.retry_after) == (
        429,
        "too_many_jobs",
        1,
    )
    scripted.script = [error(409, "conflict")]
    with pytest.raises(ApiError, match="conflict"):
        transport.send("GET", url, retries=Retries(sleep=pytest.fail))


def test_a_long_retry_after_is_cut_to_max_delay(scripted):
    scripted.script = [error(503, "queue_full", **{"Retry-After": "3600"}), (204, {}, b"")]
    slept = []
    retries = Retries(max_delay=60, sleep=slept.append)
    transport.send("GET", f"http://127.0.0.1:{scripted.server_port}/x", retries=retries)
    assert slept == [60]


def test_a_dropped_connection_is_retried_only_when_the_request_is_safe(scripted):
    port = scripted.server_port
    scripted.shutdown()
    scripted.server_close()
    slept = []
    with pytest.raises(Unreachable):
        transport.send("POST", f"http://127.0.0.1:{port}/x", retries=Retries(sleep=slept.append))
    assert slept == []
    with pytest.raises(Unreachable):
        transport.send(
            "GET", f"http://127.0.0.1:{port}/x", safe=True, retries=Retries(2, sleep=slept.append)
        )
    assert slept == [1, 2]


def moved(url: str) -> tuple:
    return 302, {"Location": url}, b""


OK_JSON = (200, {"Content-Type": "application/json"}, b'{"id": "j"}')


def test_a_redirect_to_another_origin_never_carries_the_token(scripted, elsewhere):
    here = f"http://127.0.0.1:{scripted.server_port}"
    there = f"http://127.0.0.1:{elsewhere.server_port}"
    scripted.script = [moved(f"{here}/api/v1/pdf/moved"), OK_JSON, moved(f"{there}/stolen")]
    elsewhere.script = [OK_JSON]
    pdfq = Client(Connection.of(here, "pdfq_secret"), retries=Retries(0))
    pdfq.status("a")  # redirected on the same origin: the token goes along
    assert scripted.tokens == ["Bearer pdfq_secret"] * 2
    pdfq.status("b")  # redirected to another origin: it does not
    assert elsewhere.seen == [("GET", "/stolen")]
    assert elsewhere.tokens == [None]


def test_a_redirect_to_another_scheme_is_not_followed(scripted):
    scripted.script = [moved("file:///etc/passwd")]
    url = f"http://127.0.0.1:{scripted.server_port}/x"
    with pytest.raises(ApiError) as raised:
        transport.send("GET", url, retries=Retries(0))
    assert raised.value.status == 302


@pytest.mark.parametrize(
    ("api", "link", "opened"),
    [
        ("https://pdfq.example.com", "https://bucket.s3.amazonaws.com/k?X-Amz-Signature=s", True),
        ("https://pdfq.example.com", "http://bucket.s3.amazonaws.com/k", False),
        ("https://pdfq.example.com", "http://pdfq.example.com:9000/k", True),
        ("http://localhost:8000", "http://127.0.0.1:9000/k", True),
        ("http://pdfq.lan:8000", "http://127.0.0.1:9000/k", False),
        ("https://pdfq.example.com", "file:///etc/passwd", False),
        ("https://pdfq.example.com", "ftp://pdfq.example.com/k", False),
        ("https://pdfq.example.com", "https://pdfq.example.com:x/k", False),
    ],
)
def test_storage_links_are_opened_only_over_https_or_on_the_services_own_host(api, link, opened):
    conn = Connection.of(api, "pdfq_secret")
    if opened:
        assert conn.link(link) == link
    else:
        with pytest.raises(UnsafeLink, match="https") as raised:
            conn.link(link)
        assert "Signature" not in str(raised.value)


@pytest.mark.parametrize(
    "link", ["https://evil.example/api/v1/pdf/x", "http://pdfq.example.com/x", "//evil.example/x"]
)
def test_an_api_link_off_the_services_origin_is_refused_before_the_token_goes_there(link):
    conn = Connection.of("https://pdfq.example.com", "pdfq_secret")
    assert conn.url("https://pdfq.example.com:443/api/v1/pdf/x").endswith("/x")
    with pytest.raises(UnsafeLink, match="never sent there"):
        conn.url(link)


def test_a_presigned_upload_to_a_plain_http_host_elsewhere_is_refused(scripted, tmp_path):
    pdf = tmp_path / "big.pdf"
    pdf.write_bytes(b"%PDF-1.4\n" + b"x" * 100)
    created = {
        "id": "j",
        "upload": {"put": {"url": "http://storage.example/k", "headers": {}}},
        "links": {},
    }
    scripted.script = [
        (200, {"Content-Type": "application/json"}, b'{"tenant": "public"}'),
        (201, {"Content-Type": "application/json"}, json.dumps(created).encode()),
    ]
    pdfq = Client(Connection.of(f"http://127.0.0.1:{scripted.server_port}"), retries=Retries(0))
    with pytest.raises(UnsafeLink):
        pdfq.submit(pdf, presigned=True)
    assert scripted.seen == [("GET", "/api/v1/pdf/me"), ("POST", "/api/v1/pdf/uploads")]


def test_a_refused_token_is_said_before_any_byte_of_the_file_is_sent(scripted, tmp_path):
    pdf = tmp_path / "a.pdf"
    pdf.write_bytes(b"%PDF-1.4\n" + b"x" * 100)
    scripted.script = [error(401, "unauthorized")]
    sent = []
    pdfq = Client(Connection.of(f"http://127.0.0.1:{scripted.server_port}"), retries=Retries(0))
    with pytest.raises(ApiError) as raised:
        pdfq.submit(pdf, progress=lambda done, total: sent.append(done))
    assert raised.value.status == 401
    assert scripted.seen == [("GET", "/api/v1/pdf/me")]
    assert sent == []


def test_a_proxy_error_page_becomes_an_http_code():
    failure = transport.error_of(502, {}, b"<html>Bad Gateway</html>")
    assert (failure.code, failure.message) == ("http_502", "<html>Bad Gateway</html>")


def test_the_form_body_streams_the_file_as_a_form_the_server_parses(tmp_path):
    pdf = tmp_path / "a.pdf"
    pdf.write_bytes(b"%PDF-1.4\n" + bytes(range(256)) * 400)
    body = FormBody(pdf, 'odd "name".pdf', {"pages": "1-2", "layout": "false"})
    with body.open() as reader:
        raw = reader.read(-1) + b"".join(iter(lambda: reader.read(1000), b""))
    assert len(raw) == body.length
    message = email.message_from_bytes(
        f"Content-Type: {body.content_type}\r\n\r\n".encode() + raw, policy=email.policy.HTTP
    )
    parts = {
        part.get_param("name", header="content-disposition"): part for part in message.iter_parts()
    }
    assert parts["pages"].get_content() == "1-2"
    assert parts["layout"].get_content() == "false"
    assert parts["file"].get_filename() == 'odd "name".pdf'
    assert parts["file"].get_payload(decode=True) == pdf.read_bytes()


def test_files_over_the_threshold_go_presigned_whatever_the_engine(tmp_path):
    small, large = tmp_path / "s.pdf", tmp_path / "l.pdf"
    small.write_bytes(b"x" * DIRECT_MAX_BYTES)
    large.write_bytes(b"x" * (DIRECT_MAX_BYTES + 1))
    pdfq = Client(Connection.of("http://h"))
    assert not pdfq.presigns(small, None, None)
    assert pdfq.presigns(large, None, None)
    assert pdfq.presigns(large, "pdfium", None)  # POST /uploads takes an engine too
    assert pdfq.presigns(small, None, True)


def test_folders_give_their_pdfs_and_files_are_taken_as_named(tmp_path):
    for name in ("b.pdf", "a.PDF", "notes.txt", "sub/c.pdf"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_bytes(b"%PDF-")
    named = tmp_path / "notes.txt"
    assert pdf_files([tmp_path, named], False) == [tmp_path / "a.PDF", tmp_path / "b.pdf", named]
    assert tmp_path / "sub" / "c.pdf" in pdf_files([tmp_path], True)


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_is_redrawn_on_a_terminal_and_a_line_each_way_in_a_log():
    terminal = Terminal()
    progress = Reporter(terminal).uploader("big.pdf", "presigned")
    for sent in (0, 2 * 1024 * 1024, 4 * 1024 * 1024):
        progress(sent, 4 * 1024 * 1024)
    drawn = terminal.getvalue()
    assert drawn.count("\r") == 3
    assert drawn.endswith("\rbig.pdf (presigned) 100%  4.0/4.0 MiB")
    log = io.StringIO()
    progress = Reporter(log).uploader("big.pdf", "presigned")
    for sent in (0, 1, 2, 4 * 1024 * 1024):
        progress(sent, 4 * 1024 * 1024)
    assert log.getvalue().splitlines() == [
        "pdfq: uploading big.pdf (4.0 MiB, presigned)",
        "pdfq: uploaded big.pdf",
    ]
    quiet = io.StringIO()
    Reporter(quiet, quiet=True).uploader("big.pdf", "direct")(0, 10)
    assert quiet.getvalue() == ""


@pytest.mark.parametrize(
    ("status", "code", "exit"),
    [
        (401, "invalid_token", 2),
        (404, "not_found", 4),
        (409, "result_not_ready", 5),
        (409, "conflict", 1),
        (410, "result_expired", 1),
        (429, "too_many_jobs", 3),
        (503, "queue_full", 3),
        (502, "http_502", 3),
    ],
)
def test_api_errors_map_to_the_documented_exit_codes(status, code, exit):
    assert exit_code(ApiError(status, code, "m")) == exit


def test_the_client_uses_the_standard_library_only_and_nothing_of_pdfq():
    def client(name: str) -> bool:
        return name.split(".")[0] == "client"

    graph = architecture.imports(ROOT)
    assert "client.command" in graph
    crossing = [(s, t) for s, ts in graph.items() for t in ts if client(s) != client(t)]
    assert crossing == []
    for path in (ROOT / "client").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level:
                names = [node.module]
            for name in names:
                top = name.split(".")[0]
                assert top == "client" or top in sys.stdlib_module_names, (path.name, name)


def test_python_m_client_is_the_command():
    run = subprocess.run(
        [sys.executable, "-m", "client", "status", "x"],
        env={"PATH": os.environ["PATH"]},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 2
    assert run.stderr.startswith("pdfq: Set PDFQ_URL")


def test_pyproject_declares_the_pdfq_command():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    target = project["project"]["scripts"]["pdfq"]
    module, _, function = target.partition(":")
    assert callable(getattr(import_module(module), function))
    assert project["tool"]["setuptools"]["packages"]["find"]["include"] == ["client", "client.*"]


def test_result_takes_the_tables_and_chunks_formats_and_submit_asks_for_them(tmp_path):
    from client import command

    args = command.parser().parse_args(["result", "--format", "tables", "ID"])
    assert args.format == "tables" and command.SUFFIX["chunks"] == ".chunks.jsonl"
    (tmp_path / "a.pdf").write_bytes(b"%PDF-1.4\n")
    sent = {}

    class Recorder:
        def presigns(self, *args):
            return False

        def submit(self, path, **kwargs):
            sent.update(kwargs["options"])
            return {"id": "0" * 32, "status": "queued"}

    argv = ["submit", str(tmp_path / "a.pdf"), "--outputs", "tables,chunks", "--chunk-chars", "900"]
    args = command.parser().parse_args(argv)
    command.run_submit(Recorder(), args, command.Reporter(quiet=True))
    assert sent["outputs"] == "tables,chunks" and sent["chunk_chars"] == 900


def test_batch_of_an_s3_url_sends_a_granted_prefix(tmp_path):
    report = Reporter(io.StringIO())
    args = parser().parse_args(["batch", "s3://customer/in/reports/"])
    assert batch_sources(args, report) == [{"bucket": "customer", "prefix": "in/reports/"}]
    args = parser().parse_args(["batch", "s3://customer/in/", "--start-after", "in/k.pdf"])
    assert batch_sources(args, report) == [
        {"bucket": "customer", "prefix": "in/", "start_after": "in/k.pdf"}
    ]
    assert batch_sources(parser().parse_args(["batch", "s3:///in/"]), report) == USAGE
    urls = tmp_path / "urls.txt"
    urls.write_text("# one\nhttps://a.example/x.pdf\n")
    assert batch_sources(parser().parse_args(["batch", str(urls)]), report) == [
        "https://a.example/x.pdf"
    ]
    given = parser().parse_args(["batch", str(urls), "--start-after", "k"])
    assert batch_sources(given, report) == USAGE
