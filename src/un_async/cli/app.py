"""The ``un-async`` root command and the process entry point.

Built-in commands are imported when used (or listed by ``--help``); plugins add theirs
through the ``register_commands(cli)`` hook, loaded only when the command asked for is not
a built-in or when commands are listed. :func:`main` turns every outcome into one exit
status (:mod:`un_async.cli.exit_codes`) and every error into one line on stderr.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from typing import Any

import click

from un_async._version import __version__
from un_async.cli import exit_codes
from un_async.cli.errors import CliError, describe, print_traceback, report, warn
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


class RootGroup(click.Group):
    """A group whose built-in commands load on use and whose plugins load once."""

    plugins_loaded = False

    def _load_plugins(self) -> None:
        if self.plugins_loaded:
            return
        self.plugins_loaded = True
        from un_async.core.plugins import default_host

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
            return command
        self._load_plugins()
        return self.commands.get(cmd_name)


class _State:
    debug = False


STATE = _State()


@click.group(
    cls=RootGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(__version__, prog_name="un-async")
@click.option("--debug", is_flag=True, envvar="UN_ASYNC_DEBUG", help="Show tracebacks of errors.")
def cli(debug: bool) -> None:
    """Run code on unsandbox.com — or on this machine (--backend local) — from the shell.

    \b
    Start here (no account needed):
      un-async run --backend local examples/hello.py
      un-async doctor --backend local
    """
    STATE.debug = debug


def _usage_message(error: click.UsageError) -> str:
    ctx = error.ctx
    where = f"; see '{ctx.command_path} --help'" if ctx is not None else ""
    return f"{error.format_message()}{where}"


def _is_bare_group(error: click.UsageError) -> bool:
    """A group called without a command (click 8.2+ raises this; 8.1 prints the help)."""
    bare = getattr(click.exceptions, "NoArgsIsHelpError", None)
    return bare is not None and isinstance(error, bare)


def _invoke(args: Sequence[str] | None) -> int:
    result: Any = cli.main(
        args=list(args) if args is not None else None,
        prog_name="un-async",
        standalone_mode=False,
    )
    return result if isinstance(result, int) and not isinstance(result, bool) else 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (``un-async`` exits with it)."""
    STATE.debug = False
    try:
        return _invoke(argv)
    except click.exceptions.Exit as done:
        return done.exit_code
    except click.UsageError as error:
        if _is_bare_group(error) and error.ctx is not None:  # a group alone: its help
            click.echo(error.ctx.get_help(), err=True)
        else:
            report(_usage_message(error))
        return exit_codes.USAGE
    except click.Abort as error:
        if isinstance(error.__context__, KeyboardInterrupt):
            warn("interrupted")
            return exit_codes.INTERRUPTED
        warn("aborted")
        return exit_codes.FAILURE
    except click.ClickException as error:
        report(error.format_message())
        return error.exit_code
    except Interrupted:
        warn("interrupted (the jobs this command started were cancelled)")
        return exit_codes.INTERRUPTED
    except KeyboardInterrupt:
        warn("interrupted")
        return exit_codes.INTERRUPTED
    except CliError as error:
        report(str(error))
        return error.exit_code
    except Exception as error:
        if STATE.debug:
            print_traceback(error)
        report(describe(error))
        return exit_codes.for_error(error)
