"""Jobs from a URL (consumer/source_fetch.py, POST /documents with source_url): the worker
fetches under the webhook's address rule (resolved once, public addresses only, pinned, every
redirect checked again), within one deadline and the upload limit; each failure is a coded
error, terminal or retried; the fetched PDF is the job's source like an upload's."""

import socket
import time

import pytest

from core import egress, keys
from tests.support.api import UPLOAD_URL as URL
from tests.support.corpus import BAD, GOOD
from tests.support.origin import Origin, chunked, dribbled

PDF = (GOOD / "pdfminer_jo.pdf").read_bytes()
PRIVATE_OK = {"SOURCE_ALLOW_PRIVATE": "true"}
SERVED = (200, {"Content-Type": "application/pdf"}, PDF)


@pytest.fixture
def origin():
    servers: list[Origin] = []

    def start(routes, host="127.0.0.1", port=0) -> Origin:
        servers.append(Origin(routes, host, port))
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


def submit(client, url: str, **fields) -> dict:
    response = client.post(URL, json={"source_url": url, **fields})
    assert response.status_code == 202, response.get_json()
    return response.get_json()


def job(client, job_id: str) -> dict:
    return client.get(f"/api/v1/pdf/jobs/{job_id}").get_json()


def error_code(client, job_id: str) -> str | None:
    return (job(client, job_id)["error"] or {}).get("code")


@pytest.mark.env(**PRIVATE_OK)
def test_a_url_is_fetched_by_the_worker_stored_as_the_source_and_extracted(
    client, services, origin
):
    server = origin({"/papers/jo%20v2.pdf": SERVED})
    created = submit(client, server.url("/papers/jo%20v2.pdf"), pages="1")
    body = job(client, created["id"])
    assert body["status"] == "succeeded", body["error"]
    assert body["source_url"] == server.url("/papers/jo%20v2.pdf")
    assert body["filename"] == "jo v2.pdf" and body["size"] == len(PDF)
    assert body["options"]["pages"] == "1"
    assert services.storage.get_bytes(keys.source_key("public", created["id"])) == PDF
    assert client.get(f"{created['links']['result']}").status_code == 200
    # A re-run reads the stored copy: the URL is not fetched again.
    assert client.post(created["links"]["reprocess"], json={}).status_code == 202
    assert job(client, created["id"])["status"] == "succeeded"
    assert server.requests == ["/papers/jo%20v2.pdf"]


@pytest.mark.env(**PRIVATE_OK)
def test_the_web_process_never_fetches_the_url(client, held, origin):
    server = origin({"/a.pdf": SERVED})
    created = submit(client, server.url("/a.pdf"))
    assert created["status"] == "queued" and len(held) == 1
    assert server.requests == []


@pytest.mark.env(**PRIVATE_OK)
def test_the_same_bytes_from_a_url_reuse_an_earlier_result(client, services, origin):
    server = origin({"/a.pdf": SERVED, "/b.pdf": SERVED})
    first = submit(client, server.url("/a.pdf"))
    second = submit(client, server.url("/b.pdf"))
    record = services.records.get(second["id"], "public")
    assert record.status.value == "succeeded"
    assert record.result["reused_from"] == first["id"]


@pytest.mark.parametrize(
    "url",
    ["ftp://files.example/a.pdf", "http://user:pw@files.example/a.pdf", "not a url", 42],
)
def test_a_url_pdfq_never_fetches_is_400_naming_source_url(client, url):
    response = client.post(URL, json={"source_url": url})
    assert response.status_code == 400
    assert "'source_url'" in response.get_json()["error"]["message"]


def test_a_filename_that_is_not_a_string_is_400(client, held):
    response = client.post(URL, json={"source_url": "https://files.example/", "filename": [1]})
    assert response.status_code == 400
    assert "'filename'" in response.get_json()["error"]["message"]


def test_a_form_post_takes_source_url_too_and_unknown_fields_are_400(client, held):
    ok = client.post(URL, data={"source_url": "https://files.example/x.pdf"})
    assert ok.status_code == 202 and ok.get_json()["filename"] == "x.pdf"
    bad = client.post(URL, json={"source_url": "https://files.example/x.pdf", "colour": "red"})
    assert bad.status_code == 400 and "'colour'" in bad.get_json()["error"]["message"]


def test_a_loopback_url_is_refused_without_a_request(client, origin):
    server = origin({"/a.pdf": SERVED})
    created = submit(client, server.url("/a.pdf"))
    assert job(client, created["id"])["status"] == "failed"
    assert error_code(client, created["id"]) == "source_not_allowed"
    assert server.requests == []


@pytest.fixture
def public_127_0_0_2(monkeypatch):
    """127.0.0.2 stands for a public address (the rule is unchanged for every other one)."""
    real = egress.allowed
    monkeypatch.setattr(egress, "allowed", lambda a: a == "127.0.0.2" or real(a))


def test_a_redirect_to_a_private_address_is_refused(client, origin, public_127_0_0_2):
    internal = origin({"/secret.pdf": SERVED})
    public = origin(
        {"/a.pdf": (302, {"Location": internal.url("/secret.pdf")}, b"")}, host="127.0.0.2"
    )
    created = submit(client, public.url("/a.pdf"))
    assert error_code(client, created["id"]) == "source_not_allowed"
    assert public.requests == ["/a.pdf"] and internal.requests == []


@pytest.mark.env(**PRIVATE_OK)
def test_redirects_are_followed_up_to_five_times(client, origin):
    routes = {f"/{n}": (307, {"Location": f"/{n + 1}"}, b"") for n in range(6)}
    server = origin({**routes, "/5": SERVED})
    assert job(client, submit(client, server.url("/0"))["id"])["status"] == "succeeded"
    server.routes["/5"] = (302, {"Location": "/6"}, b"")
    server.routes["/6"] = SERVED
    created = submit(client, server.url("/0"))
    assert error_code(client, created["id"]) == "source_not_allowed"


def test_the_fetch_connects_to_the_address_it_checked_not_a_second_lookup(
    client, origin, monkeypatch, public_127_0_0_2
):
    # DNS rebinding: the name answers the first lookup with a public address and any later
    # one with 127.0.0.1 (standing for an internal service on the same port).
    public = origin({"/a.pdf": SERVED}, host="127.0.0.2")
    internal = origin({"/a.pdf": SERVED}, host="127.0.0.1", port=public.port)
    lookups: list[str] = []
    real = socket.getaddrinfo

    def rebinding(host, port, *args, **kwargs):
        if host != "files.test":
            return real(host, port, *args, **kwargs)
        lookups.append(host)
        address = "127.0.0.2" if len(lookups) == 1 else "127.0.0.1"
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    created = submit(client, f"http://files.test:{public.port}/a.pdf")
    assert job(client, created["id"])["status"] == "succeeded"
    assert lookups == ["files.test"] and public.requests == ["/a.pdf"]
    assert internal.requests == []


@pytest.mark.env(MAX_UPLOAD_BYTES="3000", **PRIVATE_OK)
def test_the_upload_limit_holds_while_streaming_whatever_content_length_says(client, origin):
    big = b"%PDF-1.4\n" + b"x" * 5000
    server = origin({"/declared.pdf": (200, {}, big), "/chunked.pdf": chunked(big)})
    for path in ("/declared.pdf", "/chunked.pdf"):
        created = submit(client, server.url(path))
        assert error_code(client, created["id"]) == "too_large", path


@pytest.mark.env(**PRIVATE_OK)
def test_bytes_that_are_not_a_pdf_fail_terminally(client, origin):
    server = origin({"/a.pdf": (200, {}, (BAD / "png_renamed.pdf").read_bytes())})
    created = submit(client, server.url("/a.pdf"))
    assert error_code(client, created["id"]) == "not_a_pdf"
    assert server.requests == ["/a.pdf"]


@pytest.mark.env(TASK_RETRY_DELAY="0", **PRIVATE_OK)
def test_a_404_is_terminal_and_never_fetched_again(client, origin):
    server = origin({})
    created = submit(client, server.url("/gone.pdf"))
    body = job(client, created["id"])
    assert body["status"] == "failed" and body["error"]["code"] == "source_rejected"
    assert "HTTP 404" in body["error"]["message"]
    assert server.requests == ["/gone.pdf"]


@pytest.mark.env(TASK_RETRY_DELAY="0", **PRIVATE_OK)
def test_a_503_is_retried_until_the_pdf_comes(client, services, origin):
    unavailable = (503, {}, b"busy")
    server = origin({"/a.pdf": [unavailable, unavailable, SERVED]})
    created = submit(client, server.url("/a.pdf"))
    assert job(client, created["id"])["status"] == "succeeded"
    assert server.requests == ["/a.pdf"] * 3
    record = services.records.get(created["id"], "public")
    outcomes = [a["outcome"] for a in record.attempts]
    assert outcomes.count("source_unavailable") == 2 and outcomes[-1] == "succeeded"


@pytest.mark.env(TASK_RETRIES="0", SOURCE_FETCH_TIMEOUT="1", **PRIVATE_OK)
def test_one_deadline_bounds_the_whole_fetch(client, origin):
    server = origin({"/slow.pdf": dribbled(PDF[:200], pause=0.05)})
    started = time.monotonic()
    created = submit(client, server.url("/slow.pdf"))
    assert error_code(client, created["id"]) == "source_unavailable"
    assert time.monotonic() - started < 5  # cut at the deadline, not after the 10 s body
