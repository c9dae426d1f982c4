"""A job's life after submission: waiting, abandoning and cancelling.

:class:`JobLifecycle` holds what the client must not forget: a submission whose caller gave
up (deadline or cancellation) is left to finish in the background and the job it reports
is cancelled; a wait that times out cancels its job when asked to; every such background
cancellation is tracked, so :meth:`JobLifecycle.aclose` can wait for it (bounded).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from un_async.core.credentials import Credentials
from un_async.core.errors import JobTimeoutError
from un_async.core.executor import BaseExecutor
from un_async.core.models import ExecutionRequest, ExecutionResult

__all__ = ["JobLifecycle", "WaitFunction"]

log = logging.getLogger("un_async")

WaitFunction = Callable[
    [Credentials, str, "float | None", "ExecutionResult | None"], Awaitable[ExecutionResult]
]
"""``wait(credentials, job_id, deadline, last_seen)``: the job's final result."""

Emit = Callable[..., None]


class JobLifecycle:
    """Submits, waits and cancels for one client.

    ``cancel_timeout`` bounds each background ``cancel_job``; ``cancel_grace`` is how long
    a timed-out call waits for its cancellation before raising (a slower one goes on in
    the background).
    """

    def __init__(
        self,
        executor: BaseExecutor,
        *,
        cancel_timeout: float,
        cancel_grace: float,
        emit: Emit,
    ) -> None:
        self.executor = executor
        self.cancel_timeout = cancel_timeout
        self.cancel_grace = cancel_grace
        self._emit = emit
        self._background: set[asyncio.Task[Any]] = set()

    async def aclose(self) -> None:
        """Give background cancellations :attr:`cancel_timeout` to settle, then stop them."""
        if not self._background:
            return
        _, late = await asyncio.wait(set(self._background), timeout=self.cancel_timeout)
        for task in late:
            task.cancel()
        await asyncio.gather(*late, return_exceptions=True)

    # -- submitting -----------------------------------------------------------------------

    async def submit(
        self,
        credentials: Credentials,
        request: ExecutionRequest,
        *,
        wait: bool,
        deadline: float | None,
        cancel: bool,
    ) -> ExecutionResult:
        """Send the submission; if the caller gives up first (deadline or cancellation),
        the request is left to finish in the background and, when ``cancel``, the job it
        reports is cancelled — a submission that may have reached the server is never
        simply forgotten."""
        submission = asyncio.get_running_loop().create_task(
            self.executor.submit(credentials, request, wait=wait)
        )
        try:
            if deadline is None:
                result = await asyncio.shield(submission)
            else:
                async with asyncio.timeout_at(deadline):
                    result = await asyncio.shield(submission)
        except TimeoutError as exc:
            if isinstance(exc, JobTimeoutError):
                raise
            self._abandon_submission(credentials, submission, cancel)
            what = "it will be cancelled if the server reports a job" if cancel else "it may run"
            raise JobTimeoutError(
                f"no reply to the submission before the deadline; {what}"
            ) from None
        except asyncio.CancelledError:
            self._abandon_submission(credentials, submission, cancel)
            raise
        self._emit("submitted", result.job_id, status=result.status.value)
        return result

    def _abandon_submission(
        self,
        credentials: Credentials,
        submission: asyncio.Task[ExecutionResult],
        cancel: bool,
    ) -> None:
        async def settle() -> None:
            try:
                result = await submission
            except Exception:
                return  # it failed: no job to clean up
            if cancel and result.job_id is not None and not result.is_final:
                await self.cancel_quietly(credentials, result.job_id)

        self._track(settle())

    # -- waiting --------------------------------------------------------------------------

    async def wait(
        self,
        wait: WaitFunction,
        credentials: Credentials,
        job_id: str,
        *,
        deadline: float | None,
        last: ExecutionResult | None,
        cancel: bool,
        cancel_if_abandoned: bool,
    ) -> ExecutionResult:
        """``wait(...)`` for ``job_id``. On a passed deadline the job is cancelled when
        ``cancel``; when the waiting task itself is cancelled, when ``cancel_if_abandoned``."""
        try:
            return await wait(credentials, job_id, deadline, last)
        except JobTimeoutError:
            if cancel:
                await self.cancel_after_timeout(credentials, job_id)
            raise
        except asyncio.CancelledError:
            if cancel_if_abandoned:
                self.cancel_in_background(credentials, job_id)
            raise

    # -- cancelling -----------------------------------------------------------------------

    def _track(self, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    def cancel_in_background(self, credentials: Credentials, job_id: str) -> asyncio.Task[None]:
        """Cancel ``job_id`` without waiting; :meth:`aclose` waits for it."""
        return self._track(self.cancel_quietly(credentials, job_id))

    async def cancel_after_timeout(self, credentials: Credentials, job_id: str) -> None:
        """Cancel the job, waiting at most :attr:`cancel_grace` for the reply."""
        task = self.cancel_in_background(credentials, job_id)
        await asyncio.wait({task}, timeout=self.cancel_grace)

    async def cancel_quietly(self, credentials: Credentials, job_id: str) -> None:
        """Cancel ``job_id``, logging (not raising) a failure: the caller already has an
        error to see."""
        try:
            async with asyncio.timeout(self.cancel_timeout):
                await self.executor.cancel_job(credentials, job_id)
            self._emit("cancelled", job_id, reason="abandoned")
            log.info("cancelled abandoned job %s", job_id)
        except Exception as exc:
            log.warning("could not cancel abandoned job %s: %s", job_id, exc)
