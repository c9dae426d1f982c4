"""What a final result prints and exits with (``run``, ``jobs wait``).

Text mode: the program's stdout and stderr, byte for byte, then — unless ``quiet`` —
one-line notes on stderr for what the output alone does not say (a timeout, a
cancellation, a failure message, truncated output, artifacts written). ``--json``: the
result object as one JSON line instead of the output. Either way the exit status follows
:func:`un_async.cli.exit_codes.for_result`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from un_async.cli import exit_codes
from un_async.cli.errors import warn
from un_async.cli.output import print_json, write_artifacts, write_program_output

if TYPE_CHECKING:
    from un_async.core.models import ExecutionResult

__all__ = ["finish"]


def _notes(result: ExecutionResult) -> list[str]:
    status = result.raw_status or "unknown"
    where = f"job {result.job_id}" if result.job_id else "the job"
    notes: list[str] = []
    if status == "timeout":
        notes.append(f"{where} timed out (its time limit, --ttl, ran out)")
    elif status == "cancelled":
        notes.append(f"{where} was cancelled")
    elif status not in {"completed", "failed"}:
        notes.append(f"{where} ended with status {status!r}")
    if result.error and status != "completed":
        notes.append(f"{where}: {result.error}")
    if result.truncated:
        notes.append("the output was truncated at the backend's limit")
    return notes


def finish(
    result: ExecutionResult,
    *,
    as_json: bool,
    quiet: bool,
    artifacts_dir: Path | None,
) -> int:
    """Print ``result`` and return the exit status; writes artifacts into
    ``artifacts_dir`` when given."""
    if as_json:
        print_json(result.to_dict())
    else:
        write_program_output(result)
    if artifacts_dir is not None and result.artifacts:
        for path in write_artifacts(result.artifacts, artifacts_dir):
            if not quiet:
                warn(f"wrote {path}")
    if not quiet:
        for note in _notes(result):
            warn(note)
    return exit_codes.for_result(result)
