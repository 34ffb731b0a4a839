"""Idempotency-Key (functions/idempotency.py): the fingerprint kept for 24 h is keyed by a
server secret, so the state store holds nothing a password can be checked against."""

import hashlib
import json

import pytest

from core import keys
from tests.support.api import UPLOAD_URL, multipart
from tests.support.corpus import BAD

PASSWORD = "baz"  # opens the corpus's AES-128 file


def stored_fingerprint(client, services, key: str) -> str:
    path = BAD / "pdfminer_aes-128.pdf"
    body, kind = multipart(path.read_bytes(), path.name, fields={"password": PASSWORD})
    response = client.post(
        UPLOAD_URL, data=body, content_type=kind, headers={"Idempotency-Key": key}
    )
    assert response.status_code == 202, response.get_json()
    return json.loads(services.state.get(keys.idempotency_key("public", key)))["fp"]


@pytest.mark.env(OPTIONS_SECRET="an-options-secret-long-enough")
def test_the_fingerprint_cannot_be_recomputed_without_the_server_secret(
    client, services, configure
):
    first = stored_fingerprint(client, services, "order-1")
    assert PASSWORD not in first
    # What an unkeyed digest of the options would be: anyone could test passwords against it.
    options = json.dumps([{"password": PASSWORD}, None], sort_keys=True)
    assert hashlib.sha256(options.encode()).hexdigest()[:16] not in first
    other = configure(OPTIONS_SECRET="another-options-secret-value")
    assert stored_fingerprint(client, other, "order-2") != first  # the same request, keyed anew


@pytest.mark.env(OPTIONS_SECRET="an-options-secret-long-enough")
def test_a_replay_with_the_same_password_matches_and_another_password_is_409(client):
    path = BAD / "pdfminer_aes-128.pdf"
    headers = {"Idempotency-Key": "order-3"}
    answers = []
    for password in (PASSWORD, PASSWORD, "other"):
        body, kind = multipart(path.read_bytes(), path.name, fields={"password": password})
        answers.append(client.post(UPLOAD_URL, data=body, content_type=kind, headers=headers))
    assert [a.status_code for a in answers] == [202, 202, 409]
    assert answers[1].get_json()["id"] == answers[0].get_json()["id"]
