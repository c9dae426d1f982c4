"""Records of the fake server's accounts, received requests and jobs.

Job status is computed lazily from timestamps: a job is ``pending`` for its queue delay
after creation, ``running`` for its run time, then terminal. No task or timer exists per
job, so tens of thousands of concurrent jobs cost only their dict entries.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import Any, Literal

import attrs

from .programs import ScriptedOutput

__all__ = [
    "SPEC_LANGUAGES",
    "TERMINAL_STATUSES",
    "TEST_PUBLIC_KEY",
    "TEST_SECRET_KEY",
    "AccountStatus",
    "FakeAccount",
    "FakeJob",
    "RecordedRequest",
]

TEST_PUBLIC_KEY = "unsb-pk-test-0000-0000-0001"
TEST_SECRET_KEY = "unsb-sk-test1-test2-test3-test4"  # noqa: S105  # public test key (spec §2.2)

#: Spec §7.1: the 43 names ``GET /languages`` returned from report 4.2.7 on.
SPEC_LANGUAGES: tuple[str, ...] = (
    "awk", "bash", "c", "clojure", "cobol", "commonlisp", "cpp", "crystal", "csharp", "d",
    "dart", "deno", "dotnet", "elixir", "erlang", "forth", "fortran", "fsharp", "go",
    "groovy", "haskell", "java", "javascript", "julia", "kotlin", "lua", "nim", "objc",
    "ocaml", "perl", "php", "powershell", "prolog", "python", "r", "raku", "ruby", "rust",
    "scheme", "tcl", "typescript", "v", "zig",
)  # fmt: skip
TERMINAL_STATUSES = frozenset({"completed", "failed", "timeout", "cancelled"})
AccountStatus = Literal["active", "expired", "suspended"]


@attrs.define(kw_only=True)
class FakeAccount:
    """A key pair the server accepts. ``tier="free"`` refuses snapshots and env export
    with 403. A ``status`` other than ``"active"`` makes ``POST /keys/validate`` answer
    ``valid: false`` with that reason and every other authenticated route 401."""

    public_key: str
    secret_key: str = attrs.field(repr=False)
    tier: str = "pro"
    status: AccountStatus = "active"


@attrs.frozen(kw_only=True)
class RecordedRequest:
    """One request as received. ``time`` is ``time.monotonic()`` at arrival; ``body`` is
    empty when a fault dropped the connection before reading it; ``fault`` names the
    fault kind applied, if any."""

    method: str
    path: str
    raw_path: str
    query: Mapping[str, str]
    headers: Mapping[str, str]
    body: bytes
    peer: tuple[str, int] | None
    time: float
    fault: str | None = None

    def json(self) -> Any:
        """The body parsed as JSON (``None`` when empty)."""
        return json.loads(self.body) if self.body else None


@attrs.define(kw_only=True, eq=False)
class FakeJob:
    """Server-side job state. Times ``started``/``queued_until``/``end``/``cancelled_at``
    are on the server's monotonic clock; ``created_at`` is epoch seconds."""

    job_id: str
    account: str
    language: str
    code: str
    request: Mapping[str, Any]
    network_mode: str
    return_artifact: bool
    ttl: float
    outcome: ScriptedOutput
    created_at: float
    started: float
    queued_until: float
    end: float
    timed_out: bool
    cancelled_at: float | None = None
    lost: bool = False
    lost_errors: int = 0
    lost_status: int = 503
    not_found_polls: int = 0
    polls: int = 0

    def status_at(self, now: float) -> str:
        """``pending`` → ``running`` → terminal, as seen at monotonic time ``now``."""
        if self.cancelled_at is not None:
            return "cancelled"
        if now < self.queued_until:
            return "pending"
        if now < self.end:
            return "running"
        return "timeout" if self.timed_out else self.outcome.status

    def _finished_at(self) -> float:
        return self.cancelled_at if self.cancelled_at is not None else self.end

    def view(self, now: float) -> dict[str, Any]:
        """The job object of ``GET /jobs/{id}`` (also the synchronous ``/execute`` reply)."""
        status = self.status_at(now)
        data: dict[str, Any] = {
            "job_id": self.job_id,
            "status": status,
            "language": self.language,
            "network_mode": self.network_mode,
            "created_at": int(self.created_at),
        }
        if status in ("pending", "running"):
            return data
        finished = self._finished_at()
        ran_ms = int(max(0.0, finished - self.queued_until) * 1000)
        outcome = self.outcome
        exit_code: int | None = outcome.exit_code
        error = outcome.error
        stdout, stderr = outcome.stdout, outcome.stderr
        if status == "cancelled":
            exit_code, error, stdout, stderr = None, "job cancelled", "", ""
        elif status == "timeout":
            exit_code, error = None, f"execution timed out after {self.ttl:g}s"
        elif status == "failed" and not error:
            error = "execution failed"
        data.update(
            completed_at=int(self.created_at + (finished - self.started)),
            stdout=stdout,
            stderr=stderr,
            exit_code=exit_code,
            success=status == "completed" and exit_code == 0 and not error,
            execution_time_ms=ran_ms,
            duration_ms=ran_ms,
        )
        if error:
            data["error"] = error
        if self.return_artifact:
            data["artifacts"] = [
                {"filename": name, "content_base64": base64.b64encode(blob).decode()}
                for name, blob in outcome.artifacts.items()
            ]
        return data

    def summary(self, now: float) -> dict[str, Any]:
        """The ``GET /jobs`` list entry."""
        status = self.status_at(now)
        data: dict[str, Any] = {
            "job_id": self.job_id,
            "status": status,
            "language": self.language,
            "created_at": int(self.created_at),
        }
        if status not in ("pending", "running"):
            data["completed_at"] = int(self.created_at + (self._finished_at() - self.started))
            if status == "cancelled":
                data["error"] = "job cancelled"
            elif status == "timeout":
                data["error"] = f"execution timed out after {self.ttl:g}s"
            elif self.outcome.error:
                data["error"] = self.outcome.error
        return data
