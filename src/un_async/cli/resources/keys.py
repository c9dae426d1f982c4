"""``un-async key validate``: is the key pair valid, and what may it do?

Servers send some facts under two names (the expiry as ``expires_at`` and
``valid_through_datetime``, the rate as ``rate_per_minute`` and ``rate_limit``); the text
output shows each once, under the first name. ``--json`` prints the reply as received.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import click

from un_async.cli import exit_codes
from un_async.cli.resources.common import client_options, show_record, with_client

__all__ = ["ALIASES", "key", "without_aliases"]

FIELDS = (
    "valid",
    "reason",
    "tier",
    "status",
    "expires_at",
    "rate_per_minute",
    "burst",
    "concurrency",
)
ALIASES = {"valid_through_datetime": "expires_at", "rate_limit": "rate_per_minute"}
"""Second name -> the name the text output shows the value under."""


def without_aliases(reply: Mapping[str, Any]) -> dict[str, Any]:
    """``reply`` with each fact under one name: a second name's value fills the first
    name when that is missing or empty, and the second name is dropped."""
    record = dict(reply)
    for alias, name in ALIASES.items():
        if alias not in record:
            continue
        value = record.pop(alias)
        if record.get(name) in (None, ""):
            record[name] = value
    return record


@click.group("key", short_help="Validate the API key pair.")
def key() -> None:
    """The API key pair."""


@key.command("validate")
@client_options
def validate(backend: str | None, account: int | None, as_json: bool) -> int:
    """Check the key pair with the service; exit 0 when valid, 3 when not."""
    reply = with_client(backend, account, lambda client: client.keys.validate())
    show_record(reply if as_json else without_aliases(reply), as_json=as_json, keys=FIELDS)
    return exit_codes.OK if reply.valid else exit_codes.CREDENTIALS
