"""`flask pdf token new | secret`: make a tenant's API token, print its webhook signing secret."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from core import tokens, webhooks
from core.exitcodes import FAILED
from core.settings import RESERVED_TENANT, TENANT_NAME
from functions.cli.common import fail, line
from functions.context import services


def _checked(tenant: str) -> str:
    if not TENANT_NAME.fullmatch(tenant) or tenant == RESERVED_TENANT:
        fail(
            f"bad_request: tenant {tenant!r} must be 1-63 lowercase letters, digits, '_' or '-' "
            f"(and not {RESERVED_TENANT!r})",
            FAILED,
        )
    return tenant


def _secret_line(tenant: str):
    secret = services().settings.webhook_secret
    if secret:
        click.echo(line("webhook_secret", webhooks.tenant_secret(secret, tenant)))


@click.group()
def token():
    """API tokens of tenants (API_TOKENS) and their webhook signing secrets."""


@token.command("new")
@with_appcontext
@click.argument("tenant")
def new(tenant):
    """Print a new token for TENANT, its hashed API_TOKENS entry and webhook signing secret."""
    tenant = _checked(tenant)
    value = tokens.new_token()
    click.echo(line("token", value))
    click.echo(line("entry", tokens.entry(tenant, value)))
    _secret_line(tenant)
    click.echo(
        f"Add the entry to API_TOKENS (comma-separated) and give the token to {tenant}: "
        "it is not stored anywhere, so it cannot be shown again.",
        err=True,
    )


@token.command("secret")
@with_appcontext
@click.argument("tenant")
def secret(tenant):
    """Print the secret TENANT's webhook deliveries are signed with (from WEBHOOK_SECRET);
    `public` names the open development tenant."""
    tenant = tenant if tenant == RESERVED_TENANT else _checked(tenant)
    if not services().settings.webhook_secret:
        fail("bad_request: WEBHOOK_SECRET is not set: webhooks are off", FAILED)
    _secret_line(tenant)
