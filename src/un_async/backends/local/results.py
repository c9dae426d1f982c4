"""The one place local results and job entries are built (in the service's shape).

Besides the service's keys (``job_id``, ``status``, ``stdout``, ``stderr``, ``exit_code``,
``language``, ``duration_ms``, ``error``, ``artifacts`` as ``[{"filename",
"content_base64"}]``) every result carries ``reason``, ``truncated`` and ``isolation`` —
as mapping keys and as attributes — plus ``execution_time_ms`` (the service's name for
the duration), ``network_mode``, ``created_at``/``completed_at`` (epoch seconds) and, when
artifacts went over the cap, ``artifacts_omitted``.

A stream that is not valid UTF-8 is in ``stdout``/``stderr`` with the invalid bytes replaced
by U+FFFD, and its exact bytes are in ``stdout_base64``/``stderr_base64`` (base64); those
keys are absent when the text is exact.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from typing import Any

from un_async.backends.local.process import CapturedText
from un_async.core.models import Artifact, ExecutionResult, JobInfo, JobStatus

__all__ = ["job_entry", "local_result"]


def local_result(
    *,
    job_id: str,
    language: str,
    status: JobStatus,
    isolation: Mapping[str, Any],
    network_mode: str,
    created_at: int,
    stdout: str = "",
    stderr: str = "",
    exit_code: int | None = None,
    reason: str | None = None,
    truncated: bool = False,
    error: str | None = None,
    duration_ms: int | None = None,
    completed_at: int | None = None,
    artifacts: Sequence[tuple[str, bytes]] | None = None,
    artifacts_omitted: Sequence[str] = (),
) -> ExecutionResult:
    """An :class:`ExecutionResult` for a local job, final or not."""
    extra: dict[str, Any] = {"network_mode": network_mode, "created_at": created_at}
    if duration_ms is not None:
        extra["execution_time_ms"] = duration_ms
    if completed_at is not None:
        extra["completed_at"] = completed_at
    if status.is_terminal:
        extra["success"] = status is JobStatus.COMPLETED and exit_code == 0
    if artifacts_omitted:
        extra["artifacts_omitted"] = list(artifacts_omitted)
    for name, text in (("stdout", stdout), ("stderr", stderr)):
        exact = text.exact if isinstance(text, CapturedText) else None
        if exact is not None:
            extra[f"{name}_base64"] = base64.b64encode(exact).decode("ascii")
    return ExecutionResult(
        job_id=job_id,
        status=status,
        stdout=str(stdout),
        stderr=str(stderr),
        exit_code=exit_code,
        language=language,
        duration_ms=duration_ms,
        error=error,
        reason=reason,
        truncated=truncated,
        isolation=isolation,
        artifacts=None
        if artifacts is None
        else [Artifact(filename=name, content=content) for name, content in artifacts],
        raw=extra,
    )


def job_entry(
    *,
    job_id: str,
    language: str,
    status: JobStatus,
    created_at: int,
    completed_at: int | None,
    error: str | None,
) -> JobInfo:
    """One ``list_jobs()`` entry."""
    return JobInfo(
        job_id=job_id,
        status=status,
        language=language,
        created_at=created_at,
        completed_at=completed_at,
        error=error,
    )
