"""Lifecycle events delivered to ``execution_event`` observers."""

from __future__ import annotations

from typing import Any, Literal

import attrs

__all__ = ["EventKind", "ExecutionEvent"]

EventKind = Literal["submitted", "polled", "finished", "retry", "cancelled", "failed"]


@attrs.frozen(kw_only=True)
class ExecutionEvent:
    """One thing that happened to an execution or request.

    ``kind`` is what happened, ``job_id`` the job it concerns (if any), ``detail`` extra
    facts (status, attempt number, delay, error type). Never contains secrets.
    """

    kind: EventKind
    job_id: str | None = None
    detail: dict[str, Any] = attrs.field(factory=dict)
