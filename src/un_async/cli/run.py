"""``un-async run``: run one program and exit with its exit code.

Its stdout and stderr are passed through unchanged. Every option is sent with the
request; ``-t`` is the client's own deadline: when it passes the job is cancelled, its
final state is fetched (what the program wrote so far included, where the backend keeps
it) and printed, and the exit status is 124.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from un_async.cli.options import (
    account_option,
    backend_option,
    json_option,
    timeout_option,
)
from un_async.cli.results import Deadline, finish
from un_async.cli.runtime import make_client, run_async
from un_async.cli.sources import environment_from, input_files_from, program_from
from un_async.core.errors import JobTimeoutError
from un_async.core.models import ExecutionResult, JobStatus
from un_async.core.plugin_host import default_host

if TYPE_CHECKING:
    from un_async.core.client import AsyncClient

__all__ = ["run", "state_after_deadline"]

FINAL_STATE_WAIT = 5.0
"""Seconds allowed, after the client deadline cancelled a job, for its final state."""


async def state_after_deadline(client: AsyncClient, error: JobTimeoutError) -> ExecutionResult:
    """The job's state once the client deadline cancelled it: its final state when the
    backend can tell within :data:`FINAL_STATE_WAIT` seconds, else the last state seen,
    else just the id. Its ``status`` is ``timeout`` unless the program ended by itself
    meanwhile (``completed``/``failed``/``timeout``)."""
    last = error.last_state if isinstance(error.last_state, ExecutionResult) else None
    job_id = error.job_id or (last.job_id if last is not None else None)
    state = last
    if job_id is not None:
        try:
            state = await client.wait_for_job(job_id, timeout=FINAL_STATE_WAIT)
        except JobTimeoutError as late:
            if isinstance(late.last_state, ExecutionResult):
                state = late.last_state
        except Exception:  # noqa: S110 - the backend cannot tell: keep what is known
            pass
    result = state.copy() if state is not None else ExecutionResult(job_id=job_id)
    ended_by_itself = {JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.TIMEOUT}
    if result.status not in ended_by_itself:
        result["status"] = JobStatus.TIMEOUT.value
        result["error"] = str(error)
    return result


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
    help="Write returned artifacts into DIR, at their relative paths (default: the current "
    "directory; implies -a).",
)
@click.option(
    "--force", is_flag=True, help="Let artifacts replace existing files (default: refuse)."
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
    force: bool,
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

    async def execute() -> tuple[ExecutionResult, Deadline | None]:
        async with make_client(backend=backend, account=account, timeout=timeout) as client:
            try:
                result = await client.execute_code(
                    program.language,
                    program.code,
                    env=env or None,
                    input_files=files or None,
                    network_mode=network,
                    ttl=ttl,
                    vcpu=vcpu,
                    return_artifact=want_artifacts,
                )
            except JobTimeoutError as error:
                seconds = timeout if timeout is not None else client.config.wait_timeout
                return await state_after_deadline(client, error), Deadline(seconds or 0.0)
            return result, None

    result, deadline = run_async(execute)
    return finish(
        result,
        as_json=as_json,
        quiet=quiet,
        artifacts_dir=(out or Path(".")) if want_artifacts else None,
        force=force,
        deadline=deadline,
    )
