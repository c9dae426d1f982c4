"""Options shared by several commands, defined once.

``--backend`` (and ``UN_ASYNC_BACKEND``) is accepted by every command that uses a backend;
``--account N`` picks a row of ``accounts.csv``; ``--json`` switches to machine-readable
output; ``-y`` skips the confirmation of destructive commands.

``--backend`` and ``--account`` are also options of the ``un-async`` group itself
(``un-async --backend local doctor``): a command's own value wins, then the group's, then
``UN_ASYNC_BACKEND``, then the default.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click
from click.core import ParameterSource

__all__ = [
    "GROUP_OPTIONS",
    "account_option",
    "backend_option",
    "json_option",
    "timeout_option",
    "yes_option",
]

F = TypeVar("F", bound=Callable[..., Any])

GROUP_OPTIONS = ("backend", "account")
"""Options the root group also takes, inherited by its commands."""


def _inherit(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    """The command's own value when given on its command line, else the root group's
    (when given there), else the environment's or the default."""
    if param.name is None or ctx.get_parameter_source(param.name) is ParameterSource.COMMANDLINE:
        return value
    root = ctx.find_root()
    if root is ctx:
        return value
    given = root.params.get(param.name)
    return value if given is None else given


def backend_option(default: str | None = None) -> Callable[[F], F]:
    """``--backend NAME`` (environment: ``UN_ASYNC_BACKEND``); ``default`` when neither."""
    text = f"default: {default}" if default else "default: unsandbox"
    return click.option(
        "--backend",
        metavar="NAME",
        envvar="UN_ASYNC_BACKEND",
        default=default,
        show_envvar=True,
        callback=_inherit,
        help=f"Backend to use: unsandbox, local, replay or a plugin's ({text}).",
    )


def account_option(function: F) -> F:
    """``--account N``: the N-th row of accounts.csv."""
    return click.option(
        "--account",
        metavar="N",
        type=click.IntRange(min=0),
        default=None,
        callback=_inherit,
        help="Use row N of ~/.unsandbox/accounts.csv (or ./accounts.csv).",
    )(function)


def json_option(function: F) -> F:
    """``--json``: print JSON instead of text."""
    return click.option(
        "--json", "as_json", is_flag=True, help="Print JSON (for scripts) instead of text."
    )(function)


def timeout_option(function: F) -> F:
    """``-t/--timeout SECONDS``: the client's deadline for the wait."""
    return click.option(
        "-t",
        "--timeout",
        metavar="SECONDS",
        type=click.FloatRange(min=0, min_open=True),
        default=None,
        help="Give up (and cancel the job) after this many seconds; exit status 124.",
    )(function)


def yes_option(function: F) -> F:
    """``-y/--yes``: do not ask for confirmation."""
    return click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")(function)
