"""Talking to the API as a client does: multipart bodies, tokens, uploads, presigned uploads."""

from __future__ import annotations

import hashlib
import uuid

import requests

UPLOAD_URL = "/api/v1/pdf/documents"
# Two tenants' tokens for auth and isolation tests: acme's in clear, globex's hashed, as
# API_TOKENS accepts both.
ACME = "acme-token-0123456789abcdefghij"
GLOBEX = "globex-token-0123456789abcdefgh"
TWO_TENANTS = f"acme:{ACME},globex:sha256:{hashlib.sha256(GLOBEX.encode()).hexdigest()}"


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def multipart(
    data: bytes, filename: str, field: str = "file", fields: dict | None = None
) -> tuple[bytes, str]:
    """A multipart/form-data body (form `fields` first, then the file) and its content type,
    built in memory.

    (Werkzeug's test client spools bodies over 500 KB to a temporary file it never closes.)
    """
    boundary = uuid.uuid4().hex
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{n}"\r\n\r\n{v}\r\n'.encode()
        for n, v in (fields or {}).items()
    ]
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; '
        f'filename="{filename}"\r\nContent-Type: application/pdf\r\n\r\n'
    ).encode()
    return (
        b"".join(parts) + head + data + f"\r\n--{boundary}--\r\n".encode(),
        f"multipart/form-data; boundary={boundary}",
    )


def post_pdf(client, data: bytes, filename: str = "doc.pdf", headers: dict | None = None):
    body, content_type = multipart(data, filename)
    return client.post(UPLOAD_URL, data=body, content_type=content_type, headers=headers)


def upload(client, path) -> dict:
    """Upload a file and return the 202 body."""
    response = post_pdf(client, path.read_bytes(), path.name)
    assert response.status_code == 202, response.get_json()
    return response.get_json()


UPLOADS_URL = "/api/v1/pdf/uploads"


def presign(client, **body) -> dict:
    """POST /uploads with a PDF's name and type (and `body`); the 201 body."""
    body = {"filename": "report.pdf", "content_type": "application/pdf", **body}
    response = client.post(UPLOADS_URL, json=body)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def post_to_storage(job: dict, data: bytes) -> requests.Response:
    """What the browser does: the form fields, then the file, straight to the storage URL."""
    post = job["upload"]["post"]
    return requests.post(
        post["url"],
        data=post["fields"],
        files={"file": ("x.pdf", data, "application/pdf")},
        timeout=30,
    )


def complete(client, job: dict):
    return client.post(job["links"]["complete"])
