"""GET /health/live answers while the process serves, whatever the queue and storage do."""

import pytest

from tests.support.servers import free_port


def test_liveness_answers_without_a_token_even_with_storage_down(client, configure):
    configure(S3_ENDPOINT_URL=f"http://127.0.0.1:{free_port()}")  # nothing listens there
    assert client.get("/api/v1/pdf/health").status_code == 503  # the deep check sees it
    response = client.get("/api/v1/pdf/health/live")
    assert response.status_code == 200
    assert response.get_json() == {"status": "alive"}


@pytest.mark.env(API_TOKENS="acme:0123456789abcdefghijklmnop")
def test_liveness_needs_no_token(client):
    assert client.get("/api/v1/pdf/health/live").status_code == 200
    assert client.get("/api/v1/pdf/me").status_code == 401
