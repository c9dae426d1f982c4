"""Adaptive limit on a client's in-flight executions (additive increase, multiplicative
decrease).

An execution holds one slot from submission until its wait ends. The limit starts at
``max_concurrency`` (``None``: unlimited) and adapts to the server:

* a 429 ``concurrency_limit_reached`` on submission lowers it, at most once per round of
  submissions, to what the reply's ``concurrency_limit``/``active_executions`` hints leave
  for this client (without hints: to half of this client's running executions); the
  refused submission gives up its slot, backs off (``Retry-After``, else exponential with
  full jitter), waits for a slot under the new limit and is sent again. A 429 means the
  server did not create the job, so re-sending cannot duplicate it. Only the call's
  deadline bounds these re-sends (:class:`~un_async.core.errors.JobTimeoutError`), not
  the generic :class:`~un_async.core.retry.RetryPolicy`, which leaves concurrency 429s
  of governed submissions alone (:func:`owns_concurrency_retries`);
* with ``resubmit=False`` (the client passes it when its retry policy is
  :meth:`~un_async.core.retry.RetryPolicy.disabled`) the 429 still lowers the limit but
  is raised to the caller;
* every execution that finishes raises the limit by ``1 / limit`` (about one slot per
  round), never above ``max_concurrency`` when one was given.

Waiters get slots first come, first served.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import random
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextvars import ContextVar
from typing import TYPE_CHECKING, TypeVar, cast

from un_async.core.errors import ConfigurationError, JobTimeoutError, loaded_service_error

if TYPE_CHECKING:
    from un_async.core.config import ClientConfig
    from un_async.core.service_errors import RateLimitError

__all__ = ["ConcurrencyGovernor", "owns_concurrency_retries"]

T = TypeVar("T")

_GOVERNED: ContextVar[bool] = ContextVar("un_async_governed_submission", default=False)


def owns_concurrency_retries() -> bool:
    """True inside a governed submission: its concurrency 429s are the governor's to retry."""
    return _GOVERNED.get()


class ConcurrencyGovernor:
    """Admits executions under an adaptive limit (see the module documentation).

    ``backoff_base``/``backoff_max`` shape the wait after a refused submission;
    ``retry_after_cap`` bounds a server-sent ``Retry-After``; ``decrease`` is the factor
    applied without server hints; ``resubmit=False`` raises refused submissions.
    """

    @classmethod
    def for_config(cls, config: ClientConfig) -> ConcurrencyGovernor:
        """The governor of a client with ``config`` (its limit and retry timings)."""
        return cls(
            config.max_concurrency,
            backoff_base=config.retry.base_delay,
            backoff_max=config.retry.max_delay,
            retry_after_cap=config.retry.retry_after_cap,
            resubmit=config.retry.max_attempts > 1,
        )

    def __init__(
        self,
        max_concurrency: int | None = None,
        *,
        backoff_base: float = 0.1,
        backoff_max: float = 5.0,
        retry_after_cap: float = 60.0,
        decrease: float = 0.5,
        resubmit: bool = True,
        rng: random.Random | None = None,
    ) -> None:
        if max_concurrency is not None and max_concurrency < 1:
            raise ConfigurationError("max_concurrency must be at least 1")
        if not 0.0 < decrease < 1.0:
            raise ConfigurationError("decrease must be between 0 and 1")
        self.max_concurrency = max_concurrency
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.retry_after_cap = retry_after_cap
        self.decrease = decrease
        self.resubmit = resubmit
        self._limit: float | None = None if max_concurrency is None else float(max_concurrency)
        self._in_flight = 0
        self._running = 0
        self._epoch = 0
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._rng = rng or random.Random()
        self.decreases = 0
        self.resubmissions = 0

    def __repr__(self) -> str:
        limit = "unlimited" if self._limit is None else f"{self._limit:.1f}"
        return (
            f"ConcurrencyGovernor(limit={limit}, in_flight={self._in_flight}, "
            f"waiting={len(self._waiters)})"
        )

    @property
    def limit(self) -> float | None:
        """The current limit on in-flight executions (``None``: unlimited)."""
        return self._limit

    @property
    def in_flight(self) -> int:
        """Executions holding a slot (submitting or waiting for their result)."""
        return self._in_flight

    @property
    def waiting(self) -> int:
        """Executions queued for a slot."""
        return len(self._waiters)

    # -- admission ------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def execution(
        self, submit: Callable[[], Awaitable[T]], *, deadline: float | None
    ) -> AsyncIterator[T]:
        """Take a slot, run ``submit`` (re-sent after concurrency 429s) and yield its
        result while holding the slot; the slot is freed when the block exits.

        ``deadline`` is an event-loop time; when it passes before a submission is
        accepted, :class:`JobTimeoutError` is raised.
        """
        result = await self._submit_holding(submit, deadline)
        finished = False
        try:
            yield result
            finished = True
        finally:
            self._release(accepted=True, finished=finished)

    async def _submit_holding(
        self, submit: Callable[[], Awaitable[T]], deadline: float | None
    ) -> T:
        loop = asyncio.get_running_loop()
        attempt = 0
        refusal: RateLimitError | None = None
        while True:
            if refusal is not None and deadline is not None and loop.time() >= deadline:
                raise _not_accepted() from refusal
            await self._acquire(deadline)
            epoch = self._epoch
            token = _GOVERNED.set(self.resubmit)
            try:
                result = await submit()
            except Exception as error:
                exc = _as_rate_limit(error)
                if exc is None:
                    self._release(accepted=False, finished=False)
                    raise
                if exc.is_concurrency_limit:
                    self._lower(exc, epoch)
                self._release(accepted=False, finished=False)
                if not (exc.is_concurrency_limit and self.resubmit):
                    raise
                attempt += 1
                refusal = exc
                self.resubmissions += 1
                await self._back_off(exc, attempt, deadline)
                continue
            except BaseException:
                self._release(accepted=False, finished=False)
                raise
            finally:
                _GOVERNED.reset(token)
            self._running += 1
            return result

    async def _acquire(self, deadline: float | None) -> None:
        if not self._waiters and self._has_room():
            self._in_flight += 1
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            if deadline is None:
                await waiter
            else:
                async with asyncio.timeout_at(deadline):
                    await waiter
        except BaseException as exc:
            with contextlib.suppress(ValueError):
                self._waiters.remove(waiter)
            if waiter.done() and not waiter.cancelled():
                self._in_flight -= 1  # the slot was granted as we gave up: pass it on
                self._wake()
            if isinstance(exc, TimeoutError) and not isinstance(exc, JobTimeoutError):
                raise _not_accepted() from None
            raise

    def _has_room(self) -> bool:
        return self._limit is None or self._in_flight < max(1, math.floor(self._limit))

    def _wake(self) -> None:
        while self._waiters and self._has_room():
            waiter = self._waiters.popleft()
            if not waiter.done():
                self._in_flight += 1
                waiter.set_result(None)

    def _release(self, *, accepted: bool, finished: bool) -> None:
        self._in_flight -= 1
        if accepted:
            self._running -= 1
        if finished and self._limit is not None:
            raised = self._limit + 1.0 / self._limit
            if self.max_concurrency is not None:
                raised = min(raised, float(self.max_concurrency))
            self._limit = raised
        self._wake()

    # -- adaptation -----------------------------------------------------------------------

    def _lower(self, error: RateLimitError, epoch: int) -> None:
        """Decrease the limit once per round (submissions begun before the last decrease
        do not decrease it again)."""
        if epoch != self._epoch:
            return
        server_limit = error.concurrency_limit
        active = error.active_executions
        if server_limit is not None:
            others = max(0, active - self._running) if active is not None else 0
            target = float(max(1, server_limit - others))
        else:
            base = self._running if self._limit is None else min(self._limit, self._running)
            target = float(max(1, math.floor(base * self.decrease)))
        if self._limit is None or target < self._limit:
            self._limit = target
        self._epoch += 1
        self.decreases += 1

    async def _back_off(self, error: RateLimitError, attempt: int, deadline: float | None) -> None:
        hinted = error.retry_after
        if hinted is not None:
            delay = min(hinted, self.retry_after_cap)
        else:
            ceiling = min(self.backoff_max, self.backoff_base * 2 ** min(attempt - 1, 30))
            delay = self._rng.uniform(0.0, ceiling)
        if deadline is not None:
            delay = min(delay, max(0.0, deadline - asyncio.get_running_loop().time()))
        await asyncio.sleep(delay)


def _not_accepted() -> JobTimeoutError:
    return JobTimeoutError("the execution was not accepted before the deadline")


def _as_rate_limit(error: Exception) -> RateLimitError | None:
    """``error`` if it is a 429 :class:`RateLimitError`, else ``None`` (without importing
    the HTTP error family when no HTTP backend ever ran)."""
    cls = loaded_service_error("RateLimitError")
    if cls is not None and isinstance(error, cls):
        return cast("RateLimitError", error)
    return None
