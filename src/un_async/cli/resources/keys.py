"""``un-async key validate``: is the key pair valid, and what may it do?"""

from __future__ import annotations

import click

from un_async.cli import exit_codes
from un_async.cli.resources.common import client_options, show_record, with_client

__all__ = ["key"]

FIELDS = (
    "valid",
    "reason",
    "tier",
    "status",
    "expires_at",
    "valid_through_datetime",
    "rate_per_minute",
    "burst",
    "concurrency",
)


@click.group("key", short_help="Validate the API key pair.")
def key() -> None:
    """The API key pair."""


@key.command("validate")
@client_options
def validate(backend: str | None, account: int | None, as_json: bool) -> int:
    """Check the key pair with the service; exit 0 when valid, 3 when not."""
    reply = with_client(backend, account, lambda client: client.keys.validate())
    show_record(reply, as_json=as_json, keys=FIELDS)
    return exit_codes.OK if reply.valid else exit_codes.CREDENTIALS
