"""Questions to the user: confirming destructive commands, the one-time password of a
428 challenge.

Without ``-y`` a destructive command asks on the terminal; when stdin is not a terminal
it refuses (a usage error) rather than read an answer from a pipe. The one-time password
is read from stdin (so scripts can pipe it) unless ``--otp`` gave it.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable

import click

__all__ = ["confirm", "otp_callback"]


def confirm(question: str, *, yes: bool) -> None:
    """Return when confirmed (or ``yes``); otherwise abort the command."""
    if yes:
        return
    if not sys.stdin.isatty():
        raise click.UsageError(f"{question} — pass -y to confirm (stdin is not a terminal)")
    click.confirm(question, abort=True, err=True)


def otp_callback(otp: str | None) -> str | Callable[[str], Awaitable[str]]:
    """``--otp`` when given, else a callback that asks for the code on stderr/stdin."""
    if otp:
        return otp

    async def ask(challenge_id: str) -> str:
        def prompt() -> str:
            click.echo(
                "The server asks for confirmation: a one-time password was sent to the "
                "account's e-mail address.",
                err=True,
            )
            answer: str = click.prompt("One-time password", err=True)
            return answer.strip()

        return await asyncio.to_thread(prompt)

    return ask
