"""Errors as the command line reports them: exactly one line on stderr.

``un-async: error: <message>`` — the message with its whitespace (newlines included)
collapsed and cut at :data:`MAX_MESSAGE` characters; a traceback only under ``--debug``.
SDK messages never contain secret keys, so they are shown as they are.
"""

from __future__ import annotations

import sys
import traceback
from typing import TextIO

from un_async.cli import exit_codes

__all__ = ["MAX_MESSAGE", "CliError", "describe", "one_line", "print_traceback", "report", "warn"]

PROG = "un-async"
MAX_MESSAGE = 2000
"""Characters of a message shown; longer ones end with an ellipsis."""


class CliError(Exception):
    """An error the command line reports as it is, with its own exit status."""

    def __init__(self, message: str, exit_code: int = exit_codes.SDK_ERROR) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def one_line(text: str, limit: int = MAX_MESSAGE) -> str:
    """``text`` on one line: runs of whitespace become one space; cut at ``limit``."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


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
    return text


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
