"""``un-async languages``: the languages the backend can run."""

from __future__ import annotations

import sys

import click

from un_async.cli.options import account_option, backend_option, json_option
from un_async.cli.output import print_json
from un_async.cli.runtime import make_client, run_async

__all__ = ["languages"]


@click.command("languages", short_help="List the languages the backend can run.")
@click.option("--refresh", is_flag=True, help="Skip the cached list (and update it).")
@backend_option()
@account_option
@json_option
def languages(refresh: bool, backend: str | None, account: int | None, as_json: bool) -> int:
    """List the languages the backend runs, one per line (--json: a JSON array)."""

    async def fetch() -> list[str]:
        async with make_client(backend=backend, account=account) as client:
            return await client.get_languages(refresh=refresh)

    names = run_async(fetch)
    if as_json:
        print_json(names)
    else:
        sys.stdout.write("".join(f"{name}\n" for name in names))
        sys.stdout.flush()
    return 0
