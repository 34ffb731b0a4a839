"""`flask pdf token new | secret` in-process (functions/cli/api_tokens.py): a new token with its
hashed API_TOKENS entry and webhook signing secret, and tenant names that cannot be one refused."""

import pytest

from core import exitcodes, tokens, webhooks
from core.settings import load_settings

WEBHOOK_SECRET = "webhook-secret-0123456789"


@pytest.mark.env(WEBHOOK_SECRET=WEBHOOK_SECRET)
def test_token_new_prints_a_token_its_hashed_entry_and_the_webhook_secret(pdf):
    result = pdf("token", "new", "acme")
    assert result.exit_code == 0, result.output
    lines = dict(line.split("\t") for line in result.stdout.splitlines())
    assert lines["entry"] == f"acme:sha256:{tokens.digest(lines['token'])}"
    table = load_settings({"API_TOKENS": lines["entry"]}).api_tokens
    assert tokens.tenant_of(lines["token"], table) == "acme"
    assert lines["webhook_secret"] == webhooks.tenant_secret(WEBHOOK_SECRET, "acme")
    assert (
        pdf("token", "secret", "acme").stdout.strip()
        == f"webhook_secret\t{lines['webhook_secret']}"
    )


@pytest.mark.parametrize("tenant", ["public", "Acme", "../x"])
def test_token_new_refuses_a_tenant_name_that_cannot_be_one(pdf, tenant):
    result = pdf("token", "new", tenant)
    assert result.exit_code == exitcodes.FAILED
    assert "pdf: bad_request: tenant" in result.stderr
