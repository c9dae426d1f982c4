"""A job's life after submission: waiting, abandoning and cancelling.

:class:`JobLifecycle` holds what the client must not forget: a submission whose caller gave
up (deadline or cancellation) is left to finish in the background and the job it reports
is cancelled; a wait that times out cancels its job when asked to; every such background
cancellation is tracked, so :meth:`JobLifecycle.aclose` can wait for it (bounded). Waiting
uses the backend's own wait when it has one (``native_wait``), else a poller — shared
polling or per-job, per the config — built on first use.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

from un_async.core.config import ClientConfig
from un_async.core.credentials import Credentials
from un_async.core.errors import JobTimeoutError
from un_async.core.executor import BaseExecutor
from un_async.core.models import ExecutionRequest, ExecutionResult

if TYPE_CHECKING:
    from un_async.core.waiting import JobWaiter

__all__ = ["JobLifecycle"]

log = logging.getLogger("un_async")

Emit = Callable[..., None]


class JobLifecycle:
    """Submits, waits and cancels for one client.

    ``config.abandon_cancel_timeout`` bounds each background ``cancel_job``;
    ``config.abandon_cancel_grace`` is how long a timed-out call waits for its cancellation
    before raising (a slower one goes on in the background). ``emit`` reports events;
    ``observed`` says whether anyone listens (polls are reported only then).
    """

    def __init__(
        self, executor: BaseExecutor, config: ClientConfig, *, emit: Emit, observed: bool
    ) -> None:
        self.executor = executor
        self.config = config
        self.cancel_timeout = config.abandon_cancel_timeout
        self.cancel_grace = config.abandon_cancel_grace
        self._emit = emit
        self._observed = observed
        self._background: set[asyncio.Task[Any]] = set()
        self._closing = False
        self._waiter: JobWaiter | None = None

    async def aclose(self) -> None:
        """Give background cancellations :attr:`cancel_timeout` to settle, then stop them;
        close the poller."""
        if self._background:
            _, late = await asyncio.wait(set(self._background), timeout=self.cancel_timeout)
            self._closing = True
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
        if self._waiter is not None:
            await self._waiter.aclose()

    @property
    def waiter(self) -> JobWaiter:
        """The poller for backends without a native wait, built on first use."""
        if self._waiter is None:
            from un_async.core.shared_polling import SharedPollingWaiter
            from un_async.core.waiting import PerJobWaiter, WaitPolicy

            config = self.config
            policy = WaitPolicy(
                schedule=config.poll_schedule,
                jitter=config.poll_jitter,
                retry_after_cap=config.retry.retry_after_cap,
            )
            self._waiter = (
                SharedPollingWaiter(self._poll, self.executor.list_job_states, policy)
                if config.shared_polling
                else PerJobWaiter(self._poll, policy)
            )
        return self._waiter

    async def _poll(self, credentials: Credentials, job_id: str) -> ExecutionResult:
        result = await self.executor.poll_job(credentials, job_id)
        if self._observed:
            self._emit("polled", job_id, status=result.status.value)
        return result

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
        loop = asyncio.get_running_loop()
        submission = loop.create_task(self.executor.submit(credentials, request, wait=wait))
        # One future woken by the submission or the deadline, whichever comes first: the
        # submission is never cancelled by our giving up (cheaper than shield + timeout).
        settled = loop.create_future()

        def wake(_: object = None) -> None:
            if not settled.done():
                settled.set_result(None)

        submission.add_done_callback(wake)
        timer = None if deadline is None else loop.call_at(deadline, wake)
        try:
            await settled
        except asyncio.CancelledError:
            self._abandon_submission(credentials, submission, cancel)
            raise
        finally:
            submission.remove_done_callback(wake)
            if timer is not None:
                timer.cancel()
        if not submission.done():
            self._abandon_submission(credentials, submission, cancel)
            what = "it will be cancelled if the server reports a job" if cancel else "it may run"
            raise JobTimeoutError(f"no reply to the submission before the deadline; {what}")
        result = submission.result()  # the backend's own error, if any, propagates
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
        credentials: Credentials,
        job_id: str,
        *,
        deadline: float | None,
        last: ExecutionResult | None,
        cancel: bool,
        cancel_if_abandoned: bool,
    ) -> ExecutionResult:
        """The final result of ``job_id``. On a passed deadline the job is cancelled when
        ``cancel``; when the waiting task itself is cancelled, when ``cancel_if_abandoned``."""
        try:
            return await self._wait_final(credentials, job_id, deadline, last)
        except JobTimeoutError:
            if cancel:
                await self.cancel_after_timeout(credentials, job_id)
            raise
        except asyncio.CancelledError:
            if cancel_if_abandoned:
                self.cancel_in_background(credentials, job_id)
            raise

    async def _wait_final(
        self,
        credentials: Credentials,
        job_id: str,
        deadline: float | None,
        last: ExecutionResult | None,
    ) -> ExecutionResult:
        if not self.executor.native_wait:
            return await self.waiter.wait(credentials, job_id, deadline=deadline, last=last)
        if deadline is None:
            return await self.executor.wait_job(credentials, job_id)
        limit = asyncio.timeout_at(deadline)
        try:
            async with limit:
                return await self.executor.wait_job(credentials, job_id)
        except TimeoutError:
            if not limit.expired():
                raise  # the backend's own error, not our deadline
            raise JobTimeoutError(
                f"job {job_id} did not finish before the deadline", job_id=job_id, last_state=last
            ) from None

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
        error to see.

        ``asyncio.run`` cancels every task before the loop's clients are closed; a cancel
        that is still owed then is sent anyway (bounded by :attr:`cancel_timeout`). Only
        :meth:`aclose` giving up on it stops it.
        """
        try:
            await self._send_cancel(credentials, job_id)
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if self._closing or task is None:
                raise
            task.uncancel()
            await self._send_cancel(credentials, job_id)

    async def _send_cancel(self, credentials: Credentials, job_id: str) -> None:
        try:
            async with asyncio.timeout(self.cancel_timeout):
                await self.executor.cancel_job(credentials, job_id)
            self._emit("cancelled", job_id, reason="abandoned")
            log.info("cancelled abandoned job %s", job_id)
        except Exception as exc:
            log.warning("could not cancel abandoned job %s: %s", job_id, exc)
