"""Errors as the command line reports them: exactly one line on stderr.

``un-async: error: <message>`` — the message with its whitespace (newlines included)
collapsed and cut at :data:`MAX_MESSAGE` characters; a traceback only under ``--debug``.
SDK messages never contain secret keys, so they are shown as they are, except that advice
written for Python callers is given in command-line terms (:func:`describe`).

Under ``--json`` the same error is also printed on stdout as one JSON object
(:func:`error_object`)::

    {"error": {"type": "ValidationError", "message": "...", "exit_status": 4}}

``type`` is the error's class name (``UsageError`` for every usage error, ``Interrupted``
for Ctrl-C); an error that came with a result (artifacts that could not be written, a
sandbox that could not start the program) adds it as ``"result"``.
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Mapping
from typing import Any, TextIO

from un_async.cli import exit_codes

__all__ = [
    "MAX_MESSAGE",
    "CliError",
    "describe",
    "error_object",
    "one_line",
    "print_traceback",
    "report",
    "warn",
]

PROG = "un-async"
MAX_MESSAGE = 2000
"""Characters of a message shown; longer ones end with an ellipsis."""


class CliError(Exception):
    """An error the command line reports as it is, with its own exit status."""

    def __init__(
        self,
        message: str,
        exit_code: int = exit_codes.SDK_ERROR,
        *,
        result: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.exit_code = exit_code
        self.result = result


def one_line(text: str, limit: int = MAX_MESSAGE) -> str:
    """``text`` on one line: runs of whitespace become one space; cut at ``limit``."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


CLI_CREDENTIALS_HINT = (
    "Set UNSANDBOX_PUBLIC_KEY and UNSANDBOX_SECRET_KEY, or add a 'public_key,secret_key' "
    "line to ~/.unsandbox/accounts.csv (chmod 600; --account N picks row N), or use "
    "--backend local to run without an account."
)
"""How to fix missing credentials, in command-line terms."""

_SDK_ADVICE = (
    ("see get_languages()", "see 'un-async languages'"),
    ("see client.get_languages()", "see 'un-async languages'"),
)


def _for_the_cli(error: BaseException, text: str) -> str:
    """``text`` with advice meant for Python callers replaced by command-line advice."""
    from un_async.core.errors import CredentialsError

    if isinstance(error, CredentialsError):
        from un_async.core.credential_chain import CONFIGURE_HINT

        # The SDK's argument names, as the command line spells them: it has no explicit
        # keys, and its account_index is --account.
        text = text.replace(CONFIGURE_HINT, CLI_CREDENTIALS_HINT)
        text = text.replace("explicit keys: not given; ", "")
        return text.replace("account_index:", "--account:").replace("account_index=", "--account ")
    for sdk, cli in _SDK_ADVICE:
        text = text.replace(sdk, cli)
    return text


def describe(error: BaseException) -> str:
    """What an error says, for the one-line report (its type when it says nothing)."""
    if isinstance(error, CliError):
        return str(error)
    text = str(error)
    name = type(error).__name__
    if not text:
        return name
    if isinstance(error, OSError) and error.filename is not None:
        return f"{error.strerror or text}: {error.filename}"
    return _for_the_cli(error, text)


def error_object(
    kind: str, message: str, exit_status: int, result: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The ``--json`` form of an error: ``{"error": {"type", "message", "exit_status"}}``,
    plus ``"result"`` when the error came with one."""
    body: dict[str, Any] = {
        "error": {"type": kind, "message": one_line(message), "exit_status": exit_status}
    }
    if result is not None:
        body["result"] = dict(result)
    return body


def report(message: str, *, stream: TextIO | None = None) -> None:
    """Write ``un-async: error: <message>`` as one line on stderr."""
    out = stream or sys.stderr
    out.write(f"{PROG}: error: {one_line(message)}\n")
    out.flush()


def warn(message: str, *, stream: TextIO | None = None) -> None:
    """Write ``un-async: <message>`` (a note, not an error) as one line on stderr."""
    out = stream or sys.stderr
    out.write(f"{PROG}: {one_line(message)}\n")
    out.flush()


def print_traceback(error: BaseException) -> None:
    """The full traceback on stderr (``--debug``)."""
    traceback.print_exception(error, file=sys.stderr)
