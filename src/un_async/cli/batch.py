"""``un-async batch``: run many programs through the SDK's fan-out.

Programs run ``--concurrency`` at a time (``AsyncClient.execute_many``). While they run, a
progress bar is drawn on stderr when it is a terminal. ``--json`` prints one JSON object
per program as each finishes; otherwise a summary table follows at the end. Exit status:
0 when every program exited 0, 1 otherwise, 130 after Ctrl-C (what was still running is
cancelled; what finished is printed).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import attrs
import click

from un_async.cli import exit_codes
from un_async.cli.errors import describe, one_line, warn
from un_async.cli.options import account_option, backend_option, json_option, timeout_option
from un_async.cli.output import print_json, print_table
from un_async.cli.progress import Counts, make_progress
from un_async.cli.runtime import make_client, run_async
from un_async.cli.sources import Program, environment_from, read_program
from un_async.core.fanout import ExecutionOutcome
from un_async.core.plugin_host import default_host

__all__ = ["batch", "outcome_row"]

COLUMNS = (
    ("file", "FILE"),
    ("status", "STATUS"),
    ("exit_code", "EXIT"),
    ("duration_ms", "MS"),
    ("summary", "OUTPUT"),
)


def outcome_row(program: Program, outcome: ExecutionOutcome) -> dict[str, Any]:
    """One program's line: ``file``, ``status``, ``exit_code``, ``stdout``, ``stderr``,
    ``job_id``, ``language``, ``duration_ms``, ``error``, ``exit_status`` (and
    ``stdout_base64``/``stderr_base64`` when the result has them: the exact bytes of
    output that is not valid UTF-8)."""
    result = outcome.result
    if result is None:
        error = one_line(describe(outcome.error or RuntimeError("no result")))
        return {
            "file": program.origin,
            "language": program.language,
            "status": "error",
            "exit_code": None,
            "stdout": "",
            "stderr": "",
            "job_id": None,
            "duration_ms": None,
            "error": error,
            "exit_status": exit_codes.for_error(outcome.error or RuntimeError()),
        }
    row = {
        "file": program.origin,
        "language": result.language or program.language,
        "status": result.raw_status,
        "exit_code": result.exit_code,
        "stdout": result.stdout,
        "stderr": result.stderr,
        "job_id": result.job_id,
        "duration_ms": result.duration_ms,
        "error": result.error,
        "exit_status": exit_codes.for_result(result),
    }
    for key in ("stdout_base64", "stderr_base64"):
        if isinstance(result.get(key), str):
            row[key] = result[key]
    return row


def _summary(row: Mapping[str, Any]) -> str:
    text = row["error"] or row["stdout"] or row["stderr"] or ""
    lines = str(text).strip().splitlines()
    return lines[0] if lines else ""


@attrs.define
class _Finished:
    rows: list[dict[str, Any]] = attrs.field(factory=list)
    interrupted: bool = False


@click.command("batch", short_help="Run many programs with a live progress bar.")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("-l", "--language", metavar="LANG", help="Language of every FILE (default: each's).")
@click.option(
    "--concurrency",
    default=8,
    show_default=True,
    type=click.IntRange(1, 1024),
    help="Programs running at once.",
)
@click.option(
    "-e",
    "--env",
    "env_pairs",
    multiple=True,
    metavar="KEY=VALUE",
    help="Environment variable for every program (repeatable).",
)
@click.option("-n", "--network", type=click.Choice(["zerotrust", "semitrusted"]))
@click.option("--ttl", type=click.IntRange(1, 900), help="Each run's time limit (seconds).")
@timeout_option
@backend_option()
@account_option
@json_option
def batch(
    files: tuple[str, ...],
    language: str | None,
    concurrency: int,
    env_pairs: tuple[str, ...],
    network: str | None,
    ttl: int | None,
    timeout: float | None,
    backend: str | None,
    account: int | None,
    as_json: bool,
) -> int:
    """Run many programs, --concurrency at a time; exit 0 when every one exited 0.

    \b
      un-async batch --backend local tests/*.py
      un-async batch --json *.js | jq .status
    """
    detect = default_host().detect_language
    programs = [read_program(path, language, detect) for path in files]
    env = environment_from(env_pairs)
    items = [
        {
            "language": program.language,
            "code": program.code,
            "env": env or None,
            "network_mode": network,
            "ttl": ttl,
        }
        for program in programs
    ]

    async def execute() -> _Finished:
        finished = _Finished()
        counts = Counts(len(programs), concurrency)
        with make_progress(counts) as progress:
            async with make_client(backend=backend, account=account) as client:
                stream = client.execute_many(items, concurrency=concurrency, timeout=timeout)
                try:
                    async with stream:
                        async for outcome in stream:
                            row = outcome_row(programs[outcome.index], outcome)
                            row["index"] = outcome.index
                            counts.done += 1
                            counts.failed += row["exit_status"] != exit_codes.OK
                            progress.update(counts)
                            finished.rows.append(row)
                            if as_json:
                                print_json({k: v for k, v in row.items() if k != "index"})
                except asyncio.CancelledError:
                    finished.interrupted = True
                    task = asyncio.current_task()
                    if task is not None:
                        task.uncancel()
        return finished

    finished = run_async(execute)
    rows = sorted(finished.rows, key=lambda row: int(row["index"]))
    if not as_json:
        for row in rows:
            row["summary"] = _summary(row)
        print_table(rows, COLUMNS, empty="no program finished")
    failed = sum(row["exit_status"] != exit_codes.OK for row in rows)
    if finished.interrupted:
        warn(f"interrupted: {len(rows)} of {len(programs)} finished; the rest were cancelled")
        return exit_codes.INTERRUPTED
    if failed:
        warn(f"{failed} of {len(rows)} programs failed")
        return exit_codes.FAILURE
    return exit_codes.OK
