"""The :class:`Executor` protocol: what every backend implements.

A backend turns model objects into work: the unsandbox backend speaks HTTP, the replay
backend reads a cassette. The client owns waiting, deadlines and credentials; an executor
performs single operations and raises :mod:`un_async.core.errors` exceptions.

Two optional members are honoured when a backend has them:

* ``requires_credentials: bool`` — when False and the caller gave no keys, the client
  passes placeholder credentials instead of resolving real ones (replay from a cassette);
* ``async list_job_states(credentials) -> Mapping[job_id, Mapping]`` — one cheap listing
  of the account's jobs and their wire status, used by shared polling instead of
  :meth:`Executor.list_jobs`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

from un_async.core.credentials import Credentials
from un_async.core.models import ExecutionRequest, ExecutionResult, JobInfo, Record, Snapshot

__all__ = ["Executor", "SudoCallback"]


class SudoCallback(Protocol):
    """Returns the one-time password for a 428 challenge (may prompt a user)."""

    async def __call__(self, challenge_id: str) -> str: ...


@runtime_checkable
class Executor(Protocol):
    """One backend. Methods take the credentials to act as; they never resolve them."""

    name: str

    async def submit(
        self, credentials: Credentials, request: ExecutionRequest, *, wait: bool
    ) -> ExecutionResult:
        """Start an execution.

        ``wait=True`` posts to ``/execute``, whose reply may be final or a pending job;
        ``wait=False`` asks for a job id without waiting. Either way the result carries
        ``job_id`` when the server created a job.
        """
        ...

    async def get_job(self, credentials: Credentials, job_id: str) -> ExecutionResult:
        """A job's current state (transient failures retried)."""
        ...

    async def poll_job(self, credentials: Credentials, job_id: str) -> ExecutionResult:
        """One request for a job's state, without retries: waiters handle failures."""
        ...

    async def cancel_job(self, credentials: Credentials, job_id: str) -> Record:
        """Cancel a job; the reply is ``{"job_id": ..., "status": "cancelled"}`` at least."""
        ...

    async def list_jobs(self, credentials: Credentials) -> list[JobInfo]:
        """All jobs of the account."""
        ...

    async def get_languages(self, credentials: Credentials) -> list[str]:
        """The service's language identifiers (uncached)."""
        ...

    async def create_snapshot(
        self, credentials: Credentials, session_id: str, *, name: str | None, hot: bool
    ) -> str:
        """Snapshot a session and return the new snapshot's id."""
        ...

    async def list_snapshots(self, credentials: Credentials) -> list[Snapshot]:
        """All snapshots of the account."""
        ...

    async def restore_snapshot(self, credentials: Credentials, snapshot_id: str) -> Record:
        """Restore a snapshot; the reply describes the restored resource."""
        ...

    async def delete_snapshot(
        self, credentials: Credentials, snapshot_id: str, *, sudo: SudoCallback | None = None
    ) -> Record:
        """Delete a snapshot, answering a 428 challenge with ``sudo`` when given."""
        ...

    async def aclose(self) -> None:
        """Release connections and other resources; idempotent."""
        ...


def record_of(body: Mapping[str, Any] | None, **defaults: Any) -> Record:
    """A :class:`Record` of ``body`` with ``defaults`` filling keys the body lacks."""
    merged = dict(defaults)
    merged.update(body or {})
    return Record(merged)
