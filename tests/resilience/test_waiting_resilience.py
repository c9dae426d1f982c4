"""Waiting for jobs: 404 grace, tolerated transient failures, lost jobs, jitter, deadlines."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Iterable

import pytest

from support import MakeClient
from un_async.core import waiting
from un_async.core.errors import (
    AuthenticationError,
    JobLostError,
    JobTimeoutError,
    NotFoundError,
    RateLimitError,
    RequestTimeoutError,
    ServerError,
    TransportError,
)
from un_async.core.models import ExecutionResult, JobStatus
from un_async.core.waiting import PollHealth, WaitPolicy, poll_until_final
from un_async.testing import FakeUnsandbox, Fault

FAST = WaitPolicy(schedule=(0.001,), jitter=0.0, not_found_grace=5.0, max_transient_errors=3)
RUNNING = ExecutionResult(job_id="j", status=JobStatus.RUNNING)
DONE = ExecutionResult(job_id="j", status=JobStatus.COMPLETED, stdout="ok")


def scripted(
    steps: Iterable[ExecutionResult | Exception],
) -> Callable[[], Awaitable[ExecutionResult]]:
    """A poll function answering ``steps`` in order (exceptions are raised)."""
    queue = list(steps)

    async def poll() -> ExecutionResult:
        step = queue.pop(0)
        if isinstance(step, Exception):
            raise step
        return step

    return poll


def not_found() -> NotFoundError:
    return NotFoundError(404, {"error": "not_found"})


def unavailable() -> ServerError:
    return ServerError(503, {"error": "service_unavailable"})


async def wait(
    steps: Iterable[ExecutionResult | Exception], policy: WaitPolicy = FAST
) -> ExecutionResult:
    return await poll_until_final(scripted(steps), job_id="j", policy=policy, deadline=None)


# -- poll_until_final on its own --------------------------------------------------------------


async def test_404_for_a_new_job_is_tolerated_within_the_grace_window() -> None:
    assert await wait([not_found(), not_found(), RUNNING, DONE]) == DONE


async def test_404_past_the_grace_window_is_raised() -> None:
    policy = WaitPolicy(schedule=(0.01,), jitter=0.0, not_found_grace=0.0)
    with pytest.raises(NotFoundError):
        await wait([not_found(), DONE], policy)


async def test_404_after_the_job_was_seen_is_raised() -> None:
    with pytest.raises(NotFoundError):
        await wait([RUNNING, not_found(), DONE])


async def test_a_bounded_run_of_transient_failures_is_tolerated() -> None:
    failures: list[Exception] = [
        unavailable(),
        TransportError("reset"),
        RateLimitError(429, {"error": "rate_limit_exceeded"}),
        RequestTimeoutError(408, {}),
    ]
    assert await wait([RUNNING, *failures[:3], RUNNING, *failures[1:], DONE]) == DONE


async def test_too_many_consecutive_transient_failures_are_raised() -> None:
    with pytest.raises(ServerError):
        await wait([RUNNING, *(unavailable() for _ in range(4)), DONE])


@pytest.mark.parametrize("first", [unavailable(), TransportError("reset")])
async def test_a_404_after_a_transient_failure_means_the_job_was_lost(first: Exception) -> None:
    with pytest.raises(JobLostError) as caught:
        await wait([RUNNING, first, not_found()])
    assert caught.value.job_id == "j"


async def test_other_errors_end_the_wait_at_once() -> None:
    with pytest.raises(AuthenticationError):
        await wait([RUNNING, AuthenticationError(401, {"error": "unauthorized"}), DONE])


def rate_limited(retry_after: str | None) -> RateLimitError:
    headers = {} if retry_after is None else {"Retry-After": retry_after}
    return RateLimitError(429, {"error": "rate_limit_exceeded"}, headers=headers)


async def test_a_429s_retry_after_holds_the_next_poll() -> None:
    loop = asyncio.get_running_loop()
    times: list[float] = []
    steps: list[ExecutionResult | Exception] = [RUNNING, rate_limited("0.3"), DONE]

    async def poll() -> ExecutionResult:
        times.append(loop.time())
        step = steps.pop(0)
        if isinstance(step, Exception):
            raise step
        return step

    assert await poll_until_final(poll, job_id="j", policy=FAST, deadline=None) == DONE
    assert times[2] - times[1] >= 0.29
    assert times[1] - times[0] < 0.2  # only the poll after the 429 is held


@pytest.mark.parametrize(
    ("retry_after", "expected"), [("5", 5.0), ("600", 60.0), (None, 0.0), ("junk", 0.0)]
)
def test_hold_is_retry_after_capped(retry_after: str | None, expected: float) -> None:
    assert WaitPolicy().hold(rate_limited(retry_after)) == expected
    assert WaitPolicy().hold(unavailable()) == 0.0


async def test_retry_after_is_capped_by_the_deadline() -> None:
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(JobTimeoutError) as caught:
        await poll_until_final(
            scripted([RUNNING, rate_limited("60"), DONE]),
            job_id="j",
            policy=FAST,
            deadline=started + 0.1,
        )
    assert loop.time() - started < 5
    assert caught.value.last_state == RUNNING


def test_poll_health_applies_the_give_up_rules() -> None:
    policy = WaitPolicy(not_found_grace=10.0, max_transient_errors=2)
    health = PollHealth(policy, "j", started=0.0)
    missing = not_found()
    assert health.on_not_found(missing, now=1.0) is None  # registration race
    assert health.on_not_found(missing, now=10.0) is missing  # grace ran out
    health.on_success()
    assert health.on_not_found(missing, now=1.0) is missing  # seen, then gone
    assert health.on_not_found(missing, now=1.0, listed=True) is None  # lookup lags listing
    failure = unavailable()
    assert health.on_transient(failure) is None
    assert isinstance(health.on_not_found(missing, now=1.0, listed=True), JobLostError)
    health.on_success()  # a success in between: no longer a lost job
    assert health.on_transient(failure) is None
    assert health.on_transient(failure) is None
    assert health.on_transient(failure) is failure  # the third in a row is too many


def test_poll_delays_are_jittered_so_waits_do_not_poll_in_lock_step() -> None:
    policy = WaitPolicy(schedule=(1.0,), jitter=0.1)
    delays = [policy.delay(0, random.Random(seed)) for seed in range(200)]
    assert all(0.9 <= d <= 1.1 for d in delays)
    assert len({round(d, 6) for d in delays}) > 190
    assert max(delays) - min(delays) > 0.15


def test_jitter_zero_keeps_the_seed_schedule_and_the_last_step_repeats() -> None:
    policy = WaitPolicy(schedule=(0.3, 0.45, 2.0), jitter=0.0)
    rng = random.Random(0)
    assert [policy.delay(i, rng) for i in range(5)] == [0.3, 0.45, 2.0, 2.0, 2.0]


async def test_deadline_bounds_the_wait_and_reports_the_last_state() -> None:
    async def poll() -> ExecutionResult:
        return RUNNING

    loop = asyncio.get_running_loop()
    with pytest.raises(JobTimeoutError) as caught:
        await poll_until_final(poll, job_id="j", policy=FAST, deadline=loop.time() + 0.05)
    assert caught.value.last_state == RUNNING
    assert caught.value.job_id == "j"


async def test_deadline_also_cuts_a_hanging_poll() -> None:
    async def poll() -> ExecutionResult:
        await asyncio.sleep(3600)
        raise AssertionError("unreachable")

    loop = asyncio.get_running_loop()
    with pytest.raises(JobTimeoutError):
        await poll_until_final(poll, job_id="j", policy=FAST, deadline=loop.time() + 0.05)


# -- through the client, against the fake server ---------------------------------------------


async def test_execute_rides_out_the_registration_404_race(
    job_fake: FakeUnsandbox, make_client: MakeClient
) -> None:
    job_fake.inject(Fault.not_found_race(count=3))
    result = await make_client(job_fake).execute_code("python", "print('raced')")
    assert result.stdout == "raced\n"
    assert job_fake.response_statuses[404] == 3


async def test_execute_rides_out_5xx_and_resets_while_polling(
    job_fake: FakeUnsandbox, make_client: MakeClient
) -> None:
    job_fake.default_duration = 0.05
    job_fake.inject(Fault.status(502, method="GET", path="/jobs", times=2))
    job_fake.inject(Fault.reset_after_read(method="GET", path="/jobs", after=2))
    job_fake.inject(Fault.status(503, method="GET", path="/jobs", after=3, times=2))
    result = await make_client(job_fake).execute_code("python", "print('steady')")
    assert result.stdout == "steady\n"
    assert len(job_fake.jobs) == 1


@pytest.mark.parametrize("errors", [1, 3])
async def test_restart_while_polling_raises_job_lost(
    job_fake: FakeUnsandbox, make_client: MakeClient, errors: int
) -> None:
    job_fake.default_duration = 30
    job_fake.inject(Fault.restart(errors=errors, method="GET", path="/jobs", after=1))
    with pytest.raises(JobLostError) as caught:
        await make_client(job_fake).execute_code("python", "print(1)")
    [job] = job_fake.jobs.values()
    assert caught.value.job_id == job.job_id
    assert job.lost


async def test_wait_for_job_detects_a_lost_job(
    job_fake: FakeUnsandbox, make_client: MakeClient
) -> None:
    job_fake.default_duration = 30
    client = make_client(job_fake)
    job_id = await client.execute_async("python", "print(1)")
    job_fake.lose_job(job_id, errors=2)
    with pytest.raises(JobLostError):
        await client.wait_for_job(job_id)


class RecordingRandom(random.Random):
    """Records the ranges of ``uniform`` draws (the poll jitter factors)."""

    def __init__(self) -> None:
        super().__init__(1)
        self.draws: list[tuple[float, float, float]] = []

    def uniform(self, a: float, b: float) -> float:
        value = super().uniform(a, b)
        self.draws.append((a, b, value))
        return value


async def test_per_job_polls_use_the_clients_jitter(
    job_fake: FakeUnsandbox, make_client: MakeClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = RecordingRandom()
    monkeypatch.setattr(waiting, "_RNG", rng)
    job_fake.default_duration = 0.1
    client = make_client(job_fake, poll_schedule=(0.02,), poll_jitter=0.5, shared_polling=False)
    await asyncio.gather(*(client.execute_code("python", f"print({i})") for i in range(5)))
    polls = job_fake.count_requests("GET", "/jobs/")
    assert len(rng.draws) >= polls >= 5
    assert {(a, b) for a, b, _ in rng.draws} == {(0.5, 1.5)}
    assert len({value for _, _, value in rng.draws}) == len(rng.draws)


async def test_wait_deadline_per_call_and_client_default(
    job_fake: FakeUnsandbox, make_client: MakeClient
) -> None:
    job_fake.default_duration = 30
    loop = asyncio.get_running_loop()
    client = make_client(job_fake, wait_timeout=0.2)
    started = loop.time()
    with pytest.raises(JobTimeoutError) as caught:
        await client.execute_code("python", "print(1)")
    assert loop.time() - started < 5
    assert caught.value.last_state is not None
    assert caught.value.last_state.status in (JobStatus.PENDING, JobStatus.RUNNING)
    job_id = await client.execute_async("python", "print(2)")
    with pytest.raises(JobTimeoutError):
        await client.wait_for_job(job_id, timeout=0.1)
    job_fake.advance(60)
    assert (await client.wait_for_job(job_id, timeout=5)).stdout == "2\n"
