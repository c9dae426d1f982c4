"""``un-async run``: run one program and exit with its exit code.

Its stdout and stderr are passed through unchanged. Every option is sent with the
request; ``-t`` is the client's own deadline (the job is cancelled when it passes).
"""

from __future__ import annotations

from pathlib import Path

import click

from un_async.cli.options import (
    account_option,
    backend_option,
    json_option,
    timeout_option,
)
from un_async.cli.results import finish
from un_async.cli.runtime import make_client, run_async
from un_async.cli.sources import environment_from, input_files_from, program_from
from un_async.core.models import ExecutionResult
from un_async.core.plugins import default_host

__all__ = ["run"]


@click.command(
    "run",
    short_help="Run one program; exit with its exit code.",
    epilog="Exit status: the program's; 124 timed out; 130 cancelled; 2 usage; "
    "3 credentials; 4 other errors.",
)
@click.argument("source", metavar="[FILE | -]", required=False)
@click.option("-l", "--language", metavar="LANG", help="Language (default: from FILE).")
@click.option("-c", "--code", metavar="CODE", help="Run CODE instead of a file (needs -l).")
@click.option(
    "-e",
    "--env",
    "env_pairs",
    multiple=True,
    metavar="KEY=VALUE",
    help="Environment variable for the program (repeatable; bare KEY copies ours).",
)
@click.option(
    "-f",
    "--file",
    "input_paths",
    multiple=True,
    metavar="PATH",
    type=click.Path(exists=True, dir_okay=False),
    help="Input file placed beside the program under its base name (repeatable).",
)
@click.option("-a", "--artifacts", is_flag=True, help="Return the files the program creates.")
@click.option(
    "-o",
    "--out",
    metavar="DIR",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write returned artifacts into DIR (default: the current directory; implies -a).",
)
@click.option(
    "-n",
    "--network",
    type=click.Choice(["zerotrust", "semitrusted"]),
    help="Network access: zerotrust (none, the default) or semitrusted (internet).",
)
@click.option("--ttl", type=click.IntRange(1, 900), help="The run's time limit (seconds).")
@click.option("--vcpu", type=click.IntRange(1, 8), help="CPUs (memory scales with them).")
@timeout_option
@backend_option()
@account_option
@json_option
@click.option("-q", "--quiet", is_flag=True, help="No notes on stderr, only the program's.")
def run(
    source: str | None,
    language: str | None,
    code: str | None,
    env_pairs: tuple[str, ...],
    input_paths: tuple[str, ...],
    artifacts: bool,
    out: Path | None,
    network: str | None,
    ttl: int | None,
    vcpu: int | None,
    timeout: float | None,
    backend: str | None,
    account: int | None,
    as_json: bool,
    quiet: bool,
) -> int:
    """Run a program: FILE (language from its extension or shebang), -c CODE, or - (stdin).

    \b
      un-async run hello.py
      un-async run --backend local hello.py      # no account needed
      un-async run -l python -c 'print(6 * 7)'
      echo 'console.log(1)' | un-async run -l javascript -
    """
    program = program_from(source, language, code, default_host().detect_language)
    env = environment_from(env_pairs)
    files = input_files_from(input_paths)
    want_artifacts = artifacts or out is not None

    async def execute() -> ExecutionResult:
        async with make_client(backend=backend, account=account, timeout=timeout) as client:
            return await client.execute_code(
                program.language,
                program.code,
                env=env or None,
                input_files=files or None,
                network_mode=network,
                ttl=ttl,
                vcpu=vcpu,
                return_artifact=want_artifacts,
            )

    return finish(
        run_async(execute),
        as_json=as_json,
        quiet=quiet,
        artifacts_dir=(out or Path.cwd()) if want_artifacts else None,
    )
