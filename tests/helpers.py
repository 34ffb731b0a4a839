"""Small helpers shared by the API tests."""

from __future__ import annotations

import uuid

UPLOAD_URL = "/api/v1/pdf/documents"


def multipart(data: bytes, filename: str, field: str = "file") -> tuple[bytes, str]:
    """A multipart/form-data body and its content type, built in memory.

    (Werkzeug's test client spools bodies over 500 KB to a temporary file it never closes.)
    """
    boundary = uuid.uuid4().hex
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; '
        f'filename="{filename}"\r\nContent-Type: application/pdf\r\n\r\n'
    ).encode()
    return (
        head + data + f"\r\n--{boundary}--\r\n".encode(),
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
