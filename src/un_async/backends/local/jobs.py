"""The job table: every execution of one backend, from queued to final.

A job is ``pending`` while it waits for a slot (at most ``concurrency`` run at once),
``running`` once its workspace exists, then final. Cancelling marks it ``cancelled`` at
once and sets its cancel event; the runner kills the program and cleans up, after which
:meth:`Job.wait` returns. Once a cancel was answered ``cancelled``, the final status is
``cancelled`` too — also when the program had ended by itself in the meantime (its output
and exit code are kept, and ``error`` says so). Finished jobs are kept, oldest evicted first beyond
:data:`KEEP_FINISHED`, for the backend's lifetime.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from typing import Any

from un_async.backends.local.results import job_entry, local_result
from un_async.core.models import ExecutionRequest, ExecutionResult, JobInfo, JobStatus

__all__ = ["KEEP_FINISHED", "Job", "JobTable", "new_job_id"]

KEEP_FINISHED = 1000
"""Finished jobs kept for ``get_job``/``list_jobs``."""


def new_job_id() -> str:
    """A fresh id that satisfies the SDK's id rules (letters, digits, ``-``)."""
    return f"local-{secrets.token_hex(12)}"


class Job:
    """One execution's state; the final result once :attr:`done` is set."""

    def __init__(
        self, request: ExecutionRequest, isolation: Mapping[str, Any], job_id: str | None = None
    ) -> None:
        self.id = job_id or new_job_id()
        self.request = request
        self.isolation = isolation
        self.status = JobStatus.PENDING
        self.created_at = int(time.time())
        self.result: ExecutionResult | None = None
        self.cancel_event = asyncio.Event()
        self.done = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    @property
    def final(self) -> bool:
        return self.result is not None

    def snapshot(self) -> ExecutionResult:
        """The job as ``get_job`` reports it now."""
        if self.result is not None:
            return self.result
        cancelled = self.cancel_event.is_set()
        started = self.status is JobStatus.RUNNING
        return local_result(
            job_id=self.id,
            language=self.request.language,
            status=JobStatus.CANCELLED if cancelled else self.status,
            isolation=self.isolation,
            network_mode=self.request.network_mode or "zerotrust",
            created_at=self.created_at,
            # A running program is being killed; a queued one never started.
            reason="signal" if cancelled and started else None,
            error=("cancelled" if started else "cancelled before it started")
            if cancelled
            else None,
        )

    def entry(self) -> JobInfo:
        """The job as ``list_jobs`` lists it."""
        current = self.snapshot()
        completed = current.get("completed_at")
        return job_entry(
            job_id=self.id,
            language=self.request.language,
            status=current.status,
            created_at=self.created_at,
            completed_at=completed if isinstance(completed, int) else None,
            error=current.error,
        )

    def cancel(self) -> None:
        """Ask for the job to end now (idempotent; no effect once final)."""
        if self.result is None:
            self.cancel_event.set()

    def finish(self, result: ExecutionResult) -> None:
        """Make ``result`` final — as ``cancelled`` if a cancel was accepted before."""
        if self.cancel_event.is_set() and result.status is not JobStatus.CANCELLED:
            result = _cancelled_late(result)
        self.result = result
        self.status = result.status
        self.done.set()

    async def wait(self) -> ExecutionResult:
        """The final result, once the job ended and its workspace is gone."""
        await self.done.wait()
        assert self.result is not None
        return self.result


def _cancelled_late(result: ExecutionResult) -> ExecutionResult:
    """``result`` of a job that ended before the cancel accepted for it could act."""
    ended = result.raw_status or "ended"
    if result.exit_code is not None:
        ended += f", exit code {result.exit_code}"
    if result.error:
        ended += f": {result.error}"
    cancelled = result.copy()
    cancelled["status"] = JobStatus.CANCELLED.value
    cancelled["success"] = False
    cancelled["error"] = f"cancelled; it had already ended by itself ({ended})"
    cancelled["reason"] = result.reason or "exit"
    return cancelled


class JobTable:
    """Jobs by id, insertion-ordered; finished ones beyond the bound are forgotten."""

    def __init__(self, keep_finished: int = KEEP_FINISHED) -> None:
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._keep = keep_finished

    def add(self, job: Job) -> None:
        self._jobs[job.id] = job

    def find(self, job_id: str) -> Job | None:
        return self._jobs.get(job_id)

    def __iter__(self) -> Iterator[Job]:
        return iter(list(self._jobs.values()))

    def running(self) -> list[Job]:
        """Jobs not final yet."""
        return [job for job in self._jobs.values() if not job.final]

    def prune(self) -> None:
        """Forget the oldest finished jobs beyond the bound."""
        finished = [job_id for job_id, job in self._jobs.items() if job.final]
        for job_id in finished[: max(0, len(finished) - self._keep)]:
            del self._jobs[job_id]
