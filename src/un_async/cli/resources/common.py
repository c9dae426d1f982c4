"""What the resource commands share: one client per command, listing and showing replies.

Every resource command takes ``--backend``, ``--account`` and ``--json``
(:func:`client_options`); lists print a table (``--json``: an array), single replies
``key: value`` lines (``--json``: the object). API keys in replies (owners, trusted keys)
are shown by their first 8 characters, also under ``--json``.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

from un_async.cli.options import account_option, backend_option, json_option
from un_async.cli.output import Column, print_fields, print_json, print_table
from un_async.cli.runtime import make_client, run_async
from un_async.core.client import AsyncClient

__all__ = ["client_options", "mask_keys", "show_list", "show_record", "with_client"]

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])

_KEY = re.compile(r"\bunsb-[ps]k-[A-Za-z0-9-]+")


def client_options(function: F) -> F:
    """``--backend``, ``--account`` and ``--json``."""
    return backend_option()(account_option(json_option(function)))


def with_client(
    backend: str | None,
    account: int | None,
    action: Callable[[AsyncClient], Awaitable[T]],
    *,
    timeout: float | None = None,
) -> T:
    """``await action(client)`` with a client for ``--backend``/``--account`` (``timeout``:
    its default wait deadline)."""

    async def main() -> T:
        async with make_client(backend=backend, account=account, timeout=timeout) as client:
            return await action(client)

    return run_async(main)


def mask_keys(value: Any) -> Any:
    """``value`` with every API key in it cut to its first 8 characters."""
    if isinstance(value, str):
        return _KEY.sub(lambda match: match.group(0)[:8] + "…", value)
    if isinstance(value, Mapping):
        return {key: mask_keys(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [mask_keys(item) for item in value]
    return value


def show_record(
    record: Mapping[str, Any], *, as_json: bool, keys: Iterable[str] = ("id", "status")
) -> None:
    """One reply: ``key: value`` lines, or the JSON object."""
    masked = mask_keys(dict(record))
    if as_json:
        print_json(masked)
    else:
        print_fields(masked, keys=keys)


def show_list(
    items: Sequence[Mapping[str, Any]], *, as_json: bool, columns: Sequence[Column], empty: str
) -> None:
    """A listing: a table, or the JSON array."""
    masked = [mask_keys(dict(item)) for item in items]
    if as_json:
        print_json(masked)
    else:
        print_table(masked, columns, empty=empty)
