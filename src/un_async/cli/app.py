"""The ``un-async`` root command and the process entry point.

Built-in commands are imported when used (or listed by ``--help``); plugins add theirs
through the ``register_commands(cli)`` hook, loaded only when the command asked for is not
a built-in or when commands are listed. Every command also takes ``--debug`` (as does the
group), and the group takes ``--backend``/``--account`` for its commands
(:mod:`un_async.cli.options`). :func:`main` turns every outcome into one exit status
(:mod:`un_async.cli.exit_codes`) and every error into one line on stderr — plus, when
``--json`` was asked for, one JSON error object on stdout
(:func:`un_async.cli.errors.error_object`).
"""

from __future__ import annotations

import atexit
import gc
import importlib
import sys
from collections.abc import Mapping, Sequence
from typing import Any

import click

from un_async._version import __version__
from un_async.cli import exit_codes
from un_async.cli.errors import (
    CliError,
    describe,
    error_object,
    print_traceback,
    report,
    warn,
)
from un_async.cli.output import print_json
from un_async.cli.runtime import Interrupted

__all__ = ["BUILTIN_COMMANDS", "RootGroup", "cli", "main"]

BUILTIN_COMMANDS: dict[str, str] = {
    "run": "un_async.cli.run:run",
    "batch": "un_async.cli.batch:batch",
    "languages": "un_async.cli.resources.languages:languages",
    "jobs": "un_async.cli.resources.jobs:jobs",
    "snapshots": "un_async.cli.resources.snapshots:snapshots",
    "sessions": "un_async.cli.resources.sessions:sessions",
    "services": "un_async.cli.resources.services:services",
    "images": "un_async.cli.resources.images:images",
    "key": "un_async.cli.resources.keys:key",
    "doctor": "un_async.cli.doctor:doctor",
    "serve": "un_async.cli.serve:serve",
}
"""Command name -> ``module:attribute`` of its click command."""


class _State:
    debug = False


STATE = _State()

DEBUG_HELP = "Show tracebacks of errors."


def _set_debug(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if value:
        STATE.debug = True


def _with_debug_option(command: click.Command) -> click.Command:
    """``command`` (and, for a group, each of its commands) taking ``--debug`` too."""
    if not any(param.name == "debug" for param in command.params):
        command.params.append(
            click.Option(
                ["--debug"],
                is_flag=True,
                expose_value=False,
                is_eager=True,
                callback=_set_debug,
                help=DEBUG_HELP,
            )
        )
    if isinstance(command, click.Group):
        for child in command.commands.values():
            _with_debug_option(child)
    return command


class RootGroup(click.Group):
    """A group whose built-in commands load on use and whose plugins load once."""

    plugins_loaded = False

    def _load_plugins(self) -> None:
        if self.plugins_loaded:
            return
        self.plugins_loaded = True
        from un_async.core.plugin_host import default_host

        default_host().register_commands(self)

    def list_commands(self, ctx: click.Context) -> list[str]:
        self._load_plugins()
        return sorted(set(BUILTIN_COMMANDS) | set(self.commands))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = BUILTIN_COMMANDS.get(cmd_name)
        if target is not None:
            module_name, _, attribute = target.partition(":")
            command = getattr(importlib.import_module(module_name), attribute)
            assert isinstance(command, click.Command)
            return _with_debug_option(command)
        self._load_plugins()
        found = self.commands.get(cmd_name)
        return None if found is None else _with_debug_option(found)


@click.group(
    cls=RootGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(__version__, prog_name="un-async")
@click.option("--debug", is_flag=True, envvar="UN_ASYNC_DEBUG", help=DEBUG_HELP)
@click.option(
    "--backend",
    metavar="NAME",
    default=None,
    help="Backend for the command (its own --backend wins; else UN_ASYNC_BACKEND).",
)
@click.option(
    "--account",
    metavar="N",
    type=click.IntRange(min=0),
    default=None,
    help="Row N of accounts.csv for the command (its own --account wins).",
)
def cli(debug: bool, backend: str | None, account: int | None) -> None:
    """Run code on unsandbox.com — or on this machine (--backend local) — from the shell.

    \b
    Start here (no account needed):
      un-async run --backend local examples/hello.py
      un-async doctor --backend local
    """
    STATE.debug = STATE.debug or debug


def _usage_message(error: click.UsageError) -> str:
    """Click's message (its final full stop dropped) and where to get help."""
    message = error.format_message().strip()
    ctx = error.ctx
    if ctx is None:
        return message
    return f"{message.removesuffix('.')} (see '{ctx.command_path} --help')"


def _is_bare_group(error: click.UsageError) -> bool:
    """A group called without a command (click 8.2+ raises this; 8.1 prints the help)."""
    bare = getattr(click.exceptions, "NoArgsIsHelpError", None)
    return bare is not None and isinstance(error, bare)


def _invoke(args: Sequence[str]) -> int:
    result: Any = cli.main(
        args=list(args),
        prog_name="un-async",
        standalone_mode=False,
    )
    return result if isinstance(result, int) and not isinstance(result, bool) else 0


def wants_json(args: Sequence[str]) -> bool:
    """True when ``--json`` is among the options (before a ``--``)."""
    options = args[: list(args).index("--")] if "--" in args else args
    return "--json" in options


class _Failure:
    """Reports one failure: the line on stderr and, under ``--json``, the object on stdout."""

    def __init__(self, as_json: bool) -> None:
        self.as_json = as_json

    def __call__(
        self,
        kind: str,
        message: str,
        status: int,
        *,
        line: str = "error",
        result: Mapping[str, Any] | None = None,
    ) -> int:
        if self.as_json:
            print_json(error_object(kind, message, status, result))
        if line == "error":
            report(message)
        else:
            warn(message)
        return status


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (``un-async`` exits with it).

    Called without ``argv`` it is the program itself (``un-async``, ``python -m
    un_async``): its objects are then frozen at exit (:func:`gc.freeze`, after the other
    exit handlers), so the interpreter's final collections skip them — a few tens of
    milliseconds of every short command.
    """
    if argv is None:
        atexit.register(gc.freeze)
    STATE.debug = False
    args = list(sys.argv[1:] if argv is None else argv)
    fail = _Failure(wants_json(args))
    try:
        return _invoke(args)
    except click.exceptions.Exit as done:
        return done.exit_code
    except click.UsageError as error:
        if _is_bare_group(error) and error.ctx is not None:  # a group alone: its help
            click.echo(error.ctx.get_help(), err=True)
            return exit_codes.USAGE
        return fail("UsageError", _usage_message(error), exit_codes.USAGE)
    except click.Abort as error:
        if isinstance(error.__context__, KeyboardInterrupt):
            return fail("Interrupted", "interrupted", exit_codes.INTERRUPTED, line="note")
        return fail("Aborted", "aborted", exit_codes.FAILURE, line="note")
    except click.ClickException as error:
        return fail(type(error).__name__, error.format_message(), error.exit_code)
    except Interrupted:
        message = "interrupted (the jobs this command started were cancelled)"
        return fail("Interrupted", message, exit_codes.INTERRUPTED, line="note")
    except KeyboardInterrupt:
        return fail("Interrupted", "interrupted", exit_codes.INTERRUPTED, line="note")
    except CliError as error:
        if STATE.debug:
            print_traceback(error)
        return fail(type(error).__name__, str(error), error.exit_code, result=error.result)
    except Exception as error:
        if STATE.debug:
            print_traceback(error)
        return fail(type(error).__name__, describe(error), exit_codes.for_error(error))
