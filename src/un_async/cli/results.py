"""What a final result prints and exits with (``run``, ``jobs wait``).

Text mode: the program's stdout and stderr, byte for byte, then — unless ``quiet`` —
one-line notes on stderr for what the output alone does not say (the sandbox's warnings,
a timeout, a cancellation, a failure message, truncated output, artifacts written).
``--json``: the result object as one JSON line instead of the output. Either way the exit
status follows :func:`un_async.cli.exit_codes.for_result`.

Artifacts are written (all or none, :mod:`un_async.cli.artifacts`) before anything is
printed under ``--json``, so that a refusal is the one JSON object printed. A result the
sandbox could not start (``reason == "sandbox"``) is an error: exit status 4 with the
sandbox's message as the one error line (it is not repeated as the program's stderr).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import attrs

from un_async.cli import exit_codes
from un_async.cli.errors import CliError, warn
from un_async.cli.output import print_json, write_program_output

if TYPE_CHECKING:
    from un_async.core.models import ExecutionResult

__all__ = ["Deadline", "SandboxError", "finish", "isolation_warnings"]


class SandboxError(CliError):
    """The sandbox could not start the program (a result with ``reason == "sandbox"``)."""


@attrs.frozen
class Deadline:
    """The client's deadline (``-t``) passed after ``seconds``; the job was cancelled."""

    seconds: float


def isolation_warnings(result: ExecutionResult) -> list[str]:
    """The sandbox's warnings about this run (e.g. isolation level ``none``)."""
    isolation = result.isolation or {}
    warnings = isolation.get("warnings") or ()
    return [str(item) for item in warnings] if isinstance(warnings, list | tuple) else []


def _notes(result: ExecutionResult, deadline: Deadline | None) -> list[str]:
    status = result.raw_status or "unknown"
    where = f"job {result.job_id}" if result.job_id else "the job"
    notes = [f"warning: {text}" for text in isolation_warnings(result)]
    if deadline is not None and status == "timeout":
        notes.append(
            f"{where} was cancelled: the client deadline (-t {deadline.seconds:g} s) passed"
        )
    elif status == "timeout":
        notes.append(f"{where} timed out (its time limit, --ttl, ran out)")
    elif status == "cancelled":
        notes.append(f"{where} was cancelled")
    elif status not in {"completed", "failed"}:
        notes.append(f"{where} ended with status {status!r}")
    if result.error and status != "completed" and deadline is None:
        notes.append(f"{where}: {result.error}")
    if result.truncated:
        notes.append("the output was truncated at the backend's limit")
    return notes


def _sandbox_failure(result: ExecutionResult) -> str:
    """The one-line error for a program the sandbox could not start."""
    if result.error:
        return result.error
    first = result.stderr.strip().split("\n", 1)[0]
    message = "the sandbox failed to start the program"
    return f"{message}: {first}" if first else message


def _write_artifacts(result: ExecutionResult, directory: Path | None, force: bool) -> list[Path]:
    """Write the result's artifacts into ``directory`` (none when it is ``None``); a
    refusal carries the result."""
    if directory is None or not result.artifacts:
        return []
    from un_async.cli.artifacts import write_artifacts

    try:
        return write_artifacts(result.artifacts, directory, force=force)
    except CliError as error:
        error.result = result
        raise


def finish(
    result: ExecutionResult,
    *,
    as_json: bool,
    quiet: bool,
    artifacts_dir: Path | None,
    force: bool = False,
    deadline: Deadline | None = None,
) -> int:
    """Print ``result`` and return the exit status; writes its artifacts into
    ``artifacts_dir`` when given (an existing file is replaced only when ``force``).
    ``deadline``: the result is the job's state after the client deadline cancelled it."""
    if result.reason == "sandbox":
        if not as_json:
            write_program_output(result, stderr=False)
        raise SandboxError(_sandbox_failure(result), exit_codes.SDK_ERROR, result=result)
    if as_json:
        written = _write_artifacts(result, artifacts_dir, force)
        print_json(result.to_dict())
    else:
        write_program_output(result)
        written = _write_artifacts(result, artifacts_dir, force)
    if not quiet:
        for path in written:
            warn(f"wrote {path}")
        for note in _notes(result, deadline):
            warn(note)
    return exit_codes.for_result(result)
