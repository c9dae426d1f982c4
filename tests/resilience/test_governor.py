"""The concurrency governor: a client-wide, adaptive limit on in-flight executions."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable

import pytest

from support import FAST_RETRY, MakeClient, until
from un_async.core.errors import JobTimeoutError, RateLimitError
from un_async.core.governor import ConcurrencyGovernor, owns_concurrency_retries
from un_async.core.retry import RetryPolicy
from un_async.testing import FakeUnsandbox, Fault


def concurrency_429(
    active: int | None = None, limit: int | None = None, retry_after: str | None = None
) -> RateLimitError:
    body: dict[str, object] = {"error": "concurrency_limit_reached"}
    if active is not None:
        body["active_executions"] = active
    if limit is not None:
        body["concurrency_limit"] = limit
    headers = {"Retry-After": retry_after} if retry_after is not None else {}
    return RateLimitError(429, body, headers=headers)


def refused_then(
    value: int,
    *,
    times: int = 1,
    active: int | None = None,
    limit: int | None = None,
    retry_after: str | None = None,
) -> Callable[[], Awaitable[int]]:
    """A submission refused with a :func:`concurrency_429` ``times`` times, then ``value``."""
    left = times

    async def submit() -> int:
        nonlocal left
        if left:
            left -= 1
            raise concurrency_429(active, limit, retry_after)
        return value

    return submit


class Tracker:
    """Submissions that record how many executions are inside at once."""

    def __init__(self) -> None:
        self.inside = 0
        self.peak = 0
        self.order: list[int] = []

    async def run(
        self,
        governor: ConcurrencyGovernor,
        number: int,
        hold: float | asyncio.Event = 0.01,
        submit: Callable[[], Awaitable[int]] | None = None,
    ) -> int:
        async def default() -> int:
            return number

        async with governor.execution(submit or default, deadline=None) as value:
            self.order.append(number)
            self.inside += 1
            self.peak = max(self.peak, self.inside)
            if isinstance(hold, asyncio.Event):
                await hold.wait()
            else:
                await asyncio.sleep(hold)
            self.inside -= 1
            return value


# -- the governor on its own ----------------------------------------------------------------


async def test_unlimited_by_default() -> None:
    governor, tracker = ConcurrencyGovernor(), Tracker()
    assert governor.limit is None
    await asyncio.gather(*(tracker.run(governor, i) for i in range(50)))
    assert tracker.peak == 50
    assert governor.in_flight == 0


async def test_max_concurrency_bounds_executions_first_come_first_served() -> None:
    governor, tracker = ConcurrencyGovernor(3), Tracker()
    results = await asyncio.gather(*(tracker.run(governor, i) for i in range(20)))
    assert results == list(range(20))
    assert tracker.peak == 3
    assert tracker.order == list(range(20))
    assert governor.limit == 3.0


async def test_a_concurrency_429_lowers_the_limit_to_the_servers_hint_then_resubmits() -> None:
    governor, tracker = ConcurrencyGovernor(backoff_base=0.001), Tracker()
    submit = refused_then(7, active=4, limit=4)
    release = asyncio.Event()
    running = [asyncio.create_task(tracker.run(governor, i, hold=release)) for i in range(3)]
    await until(lambda: tracker.inside == 3)
    refused_one = asyncio.create_task(tracker.run(governor, 99, submit=submit))
    await until(lambda: governor.waiting)
    # 4 allowed, 4 active of which 3 are ours: 4 - (4 - 3) = 3 slots, all taken
    assert governor.limit == 3.0
    assert (governor.decreases, governor.resubmissions, governor.in_flight) == (1, 1, 3)
    release.set()
    assert await refused_one == 7  # admitted once one of the three finished
    await asyncio.gather(*running)


async def test_hints_that_leave_nothing_for_this_client_still_allow_one() -> None:
    governor = ConcurrencyGovernor(backoff_base=0.001)
    submit = refused_then(1, active=5, limit=5)  # all five belong to someone else
    assert await Tracker().run(governor, 0, submit=submit) == 1
    assert governor.limit == 2.0  # lowered to 1, then +1/1 for the finished execution


async def test_one_decrease_per_round_however_many_429s() -> None:
    governor = ConcurrencyGovernor(64, backoff_base=0.001)
    tracker = Tracker()
    seen: Counter[int] = Counter()
    all_in_flight = asyncio.Barrier(40)

    def refusing_once(number: int) -> Callable[[], Awaitable[int]]:
        async def submit() -> int:
            seen[number] += 1
            if seen[number] == 1:
                async with asyncio.timeout(5):
                    await all_in_flight.wait()  # all 40 are in flight when the refusals arrive
                raise concurrency_429()
            return number

        return submit

    await asyncio.gather(*(tracker.run(governor, i, submit=refusing_once(i)) for i in range(40)))
    assert governor.decreases == 1
    assert governor.resubmissions == 40


async def test_without_hints_the_limit_halves_and_then_recovers_additively() -> None:
    governor = ConcurrencyGovernor(8, backoff_base=0.001)
    tracker = Tracker()
    release = asyncio.Event()
    holders = [asyncio.create_task(tracker.run(governor, i, hold=release)) for i in range(6)]
    await until(lambda: tracker.inside == 6)
    refused = asyncio.create_task(tracker.run(governor, 100, submit=refused_then(0)))
    await until(lambda: governor.decreases == 1)  # refused while the six run
    release.set()
    await refused
    await asyncio.gather(*holders)
    lowered = governor.limit
    assert lowered is not None
    assert lowered < 5  # half of the 6 running, plus recovery
    for i in range(60):
        await tracker.run(governor, i, hold=0)
    assert governor.limit == 8.0  # recovered, never above max_concurrency


async def test_retry_after_on_a_concurrency_429_is_capped() -> None:
    governor = ConcurrencyGovernor(retry_after_cap=0.01)
    submit = refused_then(1, times=2, retry_after="3600")
    async with asyncio.timeout(5):
        assert await Tracker().run(governor, 0, submit=submit) == 1


async def test_other_errors_release_the_slot_and_propagate() -> None:
    governor = ConcurrencyGovernor(1)

    async def rate_limited() -> int:
        raise RateLimitError(429, {"error": "rate_limit_exceeded"})

    async def broken() -> int:
        raise RuntimeError("boom")

    with pytest.raises(RateLimitError):
        await Tracker().run(governor, 0, submit=rate_limited)
    with pytest.raises(RuntimeError):
        await Tracker().run(governor, 0, submit=broken)
    assert (governor.in_flight, governor.resubmissions) == (0, 0)


async def test_resubmit_false_lowers_then_raises() -> None:
    governor = ConcurrencyGovernor(resubmit=False)

    async def submit() -> int:
        raise concurrency_429(active=2, limit=2)

    with pytest.raises(RateLimitError):
        await Tracker().run(governor, 0, submit=submit)
    assert governor.limit == 1.0
    assert governor.in_flight == 0


async def test_the_deadline_bounds_resubmission() -> None:
    governor = ConcurrencyGovernor(backoff_base=0.01, backoff_max=0.02)
    calls = 0

    async def submit() -> int:
        nonlocal calls
        calls += 1
        raise concurrency_429(active=1, limit=1)

    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(JobTimeoutError, match="not accepted") as caught:
        async with governor.execution(submit, deadline=started + 0.2):
            pass
    assert isinstance(caught.value.__cause__, RateLimitError)
    assert loop.time() - started < 3
    assert calls > 1
    assert governor.in_flight == 0


async def test_the_governor_marks_its_submissions() -> None:
    marks: list[bool] = []

    async def submit() -> int:
        marks.append(owns_concurrency_retries())
        return 0

    await Tracker().run(ConcurrencyGovernor(), 0, submit=submit)
    await Tracker().run(ConcurrencyGovernor(resubmit=False), 0, submit=submit)
    assert marks == [True, False]
    assert owns_concurrency_retries() is False


def test_invalid_settings() -> None:
    with pytest.raises(ValueError, match="max_concurrency"):
        ConcurrencyGovernor(0)
    with pytest.raises(ValueError, match="decrease"):
        ConcurrencyGovernor(decrease=1.0)


# -- through the client ---------------------------------------------------------------------


async def test_gather_of_500_executions_against_a_limit_of_10_completes(
    make_client: MakeClient,
) -> None:
    async with FakeUnsandbox(mode="job", default_duration=0.02, concurrency_limit=10) as fake:
        client = make_client(fake, wait_timeout=120.0)
        programs = [f"print({i})" for i in range(500)]
        results = await asyncio.gather(*(client.execute_code("python", p) for p in programs))
        assert [r.stdout for r in results] == [f"{i}\n" for i in range(500)]
        per_program = Counter(job.code for job in fake.jobs.values())
        assert per_program == Counter(programs)  # every program ran exactly once
        assert fake.response_statuses[429] > 0
        assert client.governor.decreases >= 1
        assert client.governor.in_flight == 0


async def test_resubmission_is_not_bounded_by_the_retry_policy_attempts(
    fake: FakeUnsandbox, make_client: MakeClient
) -> None:
    fake.inject(Fault.concurrency_limited(active=1, limit=1, path="/execute", times=8))
    client = make_client(fake, retry=RetryPolicy(max_attempts=2, base_delay=0.001))
    assert (await client.execute_code("python", "print('finally')")).stdout == "finally\n"
    assert fake.count_requests("POST", "/execute") == 9
    assert client.governor.resubmissions == 8
    assert len(fake.jobs) == 1


async def test_the_requester_leaves_governed_concurrency_429s_to_the_governor(
    fake: FakeUnsandbox, make_client: MakeClient
) -> None:
    fake.inject(Fault.concurrency_limited(path="/execute"))
    client = make_client(fake)
    await client.execute_code("python", "print(1)")
    assert client.governor.resubmissions == 1
    assert fake.count_requests("POST", "/execute") == 2


async def test_execute_async_is_not_governed_but_still_retried(
    fake: FakeUnsandbox, make_client: MakeClient
) -> None:
    fake.inject(Fault.concurrency_limited(path="/execute"))
    client = make_client(fake)
    assert await client.execute_async("python", "print(1)")
    assert client.governor.resubmissions == 0
    assert fake.count_requests("POST", "/execute/async") == 2
    assert FAST_RETRY.max_attempts >= 2


async def test_a_client_limit_below_the_servers_never_meets_a_429(
    make_client: MakeClient,
) -> None:
    async with FakeUnsandbox(mode="job", default_duration=0.02, concurrency_limit=10) as fake:
        client = make_client(fake, max_concurrency=5)
        await asyncio.gather(*(client.execute_code("python", f"print({i})") for i in range(40)))
        assert fake.response_statuses[429] == 0
        assert len(fake.jobs) == 40


async def test_disabled_retries_surface_the_429(
    fake: FakeUnsandbox, make_client: MakeClient
) -> None:
    fake.inject(Fault.concurrency_limited(active=3, limit=3, path="/execute"))
    client = make_client(fake, retry=RetryPolicy.disabled())
    with pytest.raises(RateLimitError) as caught:
        await client.execute_code("python", "print(1)")
    assert caught.value.is_concurrency_limit
    assert client.governor.limit == 1.0  # three active, none of them this client's
