"""Waiting for a job to finish: schedule, jitter, deadline and transient failures.

The per-job waiter polls ``GET /jobs/{id}`` on the seed's schedule (300, 450, 700, 900,
650, 1600, 2000 ms, the last repeating), each delay scaled by a random factor in
``1 ± jitter`` so that many waits do not poll in lock-step. While waiting it tolerates:

* a 404 for a job it has not yet seen (the registration race), for ``not_found_grace``
  seconds;
* up to ``max_transient_errors`` consecutive 5xx, 408, 429 or transport failures; after
  a 429 the next poll waits at least its ``Retry-After`` (at most ``retry_after_cap``).

A 404 that follows a transient failure, with no successful observation in between, means
the server restarted and lost the job (spec §4.2): that raises
:class:`~un_async.core.errors.JobLostError`. A passed deadline raises
:class:`~un_async.core.errors.JobTimeoutError` carrying the last state seen.
:class:`PollHealth` holds these rules for every waiter; :class:`PollState` is one wait
polling its job on its own (a poll and its outcome).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from typing import Protocol

import attrs

from un_async.core.config import POLL_SCHEDULE
from un_async.core.credentials import Credentials
from un_async.core.errors import (
    JobLostError,
    JobTimeoutError,
    NotFoundError,
    RateLimitError,
    RequestTimeoutError,
    ServerError,
    TransportError,
)
from un_async.core.models import ExecutionResult

__all__ = [
    "JobWaiter",
    "PerJobWaiter",
    "PollHealth",
    "PollState",
    "WaitPolicy",
    "poll_until_final",
]

TRANSIENT = (ServerError, RateLimitError, RequestTimeoutError, TransportError)


@attrs.frozen(kw_only=True)
class WaitPolicy:
    """How a waiter paces polls and which failures it rides out."""

    schedule: tuple[float, ...] = POLL_SCHEDULE
    jitter: float = 0.1
    not_found_grace: float = 10.0
    max_transient_errors: int = 10
    retry_after_cap: float = 60.0

    def delay(self, index: int, rng: random.Random) -> float:
        """Seconds to sleep before poll number ``index`` (0-based)."""
        base = self.schedule[min(index, len(self.schedule) - 1)]
        if self.jitter <= 0:
            return base
        return base * rng.uniform(1.0 - self.jitter, 1.0 + self.jitter)

    def hold(self, error: BaseException) -> float:
        """Seconds the next poll must wait after ``error``: a 429's ``Retry-After``
        (capped at ``retry_after_cap``), else 0."""
        if isinstance(error, RateLimitError) and error.retry_after is not None:
            return min(error.retry_after, self.retry_after_cap)
        return 0.0


class PollHealth:
    """The give-up rules of one wait (see the module doc), shared by both waiters.

    Feed it every observation of the job. ``on_transient`` and ``on_not_found`` return
    the error that ends the wait, or ``None`` to keep polling.
    """

    __slots__ = ("job_id", "policy", "seen", "started", "transient")

    def __init__(self, policy: WaitPolicy, job_id: str, started: float) -> None:
        self.policy = policy
        self.job_id = job_id
        self.started = started
        self.seen = False
        self.transient = 0  # consecutive transient failures

    def on_success(self) -> None:
        """The server reported the job: its own reply, or a listing showing it."""
        self.seen, self.transient = True, 0

    def on_transient(self, error: Exception) -> Exception | None:
        """A 5xx, 408, 429 or transport failure; ``error`` once there were too many."""
        self.transient += 1
        return error if self.transient > self.policy.max_transient_errors else None

    def on_not_found(
        self, error: NotFoundError, now: float, *, listed: bool = False
    ) -> Exception | None:
        """A 404 for the job. ``listed``: the latest listing shows the job, so a sighting
        there does not make the 404 final (the lookup lags: registration race)."""
        if self.transient:
            return JobLostError(
                f"job {self.job_id} was lost: the server failed, then no longer knew the job",
                job_id=self.job_id,
            )
        if (self.seen and not listed) or now - self.started >= self.policy.not_found_grace:
            return error
        return None


class JobWaiter(Protocol):
    """Waits for jobs of one client. Implementations: per-job and shared polling."""

    async def wait(
        self,
        credentials: Credentials,
        job_id: str,
        *,
        deadline: float | None,
        last: ExecutionResult | None = None,
    ) -> ExecutionResult:
        """The job's final state; ``deadline`` is an event-loop time (``loop.time()``)."""
        ...

    async def aclose(self) -> None:
        """Stop background work; idempotent."""
        ...


def timeout_error(job_id: str, last: ExecutionResult | None) -> JobTimeoutError:
    """The error for a wait whose deadline passed."""
    state = f"; last status: {last.raw_status or last.status.value}" if last else ""
    return JobTimeoutError(
        f"job {job_id} did not finish before the deadline{state}", job_id=job_id, last_state=last
    )


class PollState:
    """One wait polling its job on its own: schedule position, health, last state seen.

    Both waiters drive it (the per-job waiter for every wait, the shared waiter for a
    wait that is alone on its account), so their give-up rules cannot drift apart.
    """

    __slots__ = ("health", "hold", "index", "job_id", "last", "policy", "seen_at")

    def __init__(
        self, policy: WaitPolicy, job_id: str, started: float, last: ExecutionResult | None
    ) -> None:
        self.policy = policy
        self.job_id = job_id
        self.health = PollHealth(policy, job_id, started)
        self.index = 0  # polls made so far: the schedule position of the next delay
        self.hold = 0.0  # a 429's Retry-After: the least time until the next poll
        self.last = last
        self.seen_at: float | None = None  # loop time of the last successful reply

    def delay(self, rng: random.Random) -> float:
        """Seconds from now to the next poll (jittered; at least a 429's hold)."""
        return max(self.policy.delay(self.index, rng), self.hold)

    async def poll(
        self, poll: Callable[[], Awaitable[ExecutionResult]], deadline: float | None
    ) -> ExecutionResult | None:
        """Poll once: the final state, ``None`` to poll again, or the error ending the wait."""
        loop = asyncio.get_running_loop()
        self.index += 1
        self.hold = 0.0
        try:
            if deadline is None:
                state = await poll()
            else:
                async with asyncio.timeout_at(deadline):
                    state = await poll()
        except TimeoutError as exc:
            if isinstance(exc, JobTimeoutError) or deadline is None or loop.time() < deadline:
                raise
            raise timeout_error(self.job_id, self.last) from None
        except NotFoundError as exc:
            error = self.health.on_not_found(exc, loop.time())
            if error is exc:
                raise
            if error is not None:
                raise error from None
            return None
        except TRANSIENT as exc:
            if self.health.on_transient(exc) is not None:
                raise
            self.hold = self.policy.hold(exc)
            return None
        self.health.on_success()
        self.last, self.seen_at = state, loop.time()
        return state if state.is_final else None


async def poll_until_final(
    poll: Callable[[], Awaitable[ExecutionResult]],
    *,
    job_id: str,
    policy: WaitPolicy,
    deadline: float | None,
    last: ExecutionResult | None = None,
    rng: random.Random | None = None,
) -> ExecutionResult:
    """Call ``poll`` on the policy's schedule until the job is final (see module doc)."""
    loop = asyncio.get_running_loop()
    rng = rng or _RNG
    state = PollState(policy, job_id, loop.time(), last)
    while True:
        delay = state.delay(rng)
        if deadline is not None:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise timeout_error(job_id, state.last)
            delay = min(delay, remaining)
        await asyncio.sleep(delay)
        if deadline is not None and loop.time() >= deadline:
            raise timeout_error(job_id, state.last)
        result = await state.poll(poll, deadline)
        if result is not None:
            return result


_RNG = random.Random()


class PerJobWaiter:
    """Polls each job on its own (the seed's behaviour, made resilient)."""

    def __init__(
        self,
        poll: Callable[[Credentials, str], Awaitable[ExecutionResult]],
        policy: WaitPolicy,
    ) -> None:
        self._poll = poll
        self.policy = policy

    async def wait(
        self,
        credentials: Credentials,
        job_id: str,
        *,
        deadline: float | None,
        last: ExecutionResult | None = None,
    ) -> ExecutionResult:
        return await poll_until_final(
            lambda: self._poll(credentials, job_id),
            job_id=job_id,
            policy=self.policy,
            deadline=deadline,
            last=last,
        )

    async def aclose(self) -> None:
        return None
