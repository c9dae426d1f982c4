"""Shared polling waits exactly like per-job polling, with fewer requests.

Every scenario runs with both waiters and three concurrent waits, so the shared waiter
takes its listing path (``GET /jobs`` per tick) rather than its single-wait fast path.
Listings that misreport jobs: ``test_listing_pathologies.py``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from functools import partial
from typing import Any

import pytest

from support import KEYS, until
from un_async import (
    AsyncClient,
    ClientClosedError,
    ClientConfig,
    ExecutionResult,
    JobLostError,
    JobStatus,
    JobTimeoutError,
    NotFoundError,
)
from un_async.core.credentials import Credentials
from un_async.core.errors import ServerError
from un_async.core.executor import BaseExecutor
from un_async.core.shared_polling import MAX_LISTINGS, SharedPollingWaiter
from un_async.core.waiting import PerJobWaiter, WaitPolicy
from un_async.testing import TEST_PUBLIC_KEY, FakeUnsandbox, Fault

FAST = (0.02, 0.03, 0.05)
JOBS = 3
QUICK = 5.0
"""Seconds within which failure scenarios must end: half the default 404 grace (10 s)."""


def polls(fake: FakeUnsandbox) -> int:
    """Listings and job lookups the fake has received."""
    return fake.count_requests("GET", "/jobs") + fake.count_requests("GET", "/jobs/")


def seen(fake: FakeUnsandbox, job_ids: list[str]) -> bool:
    """Every job was looked up twice: the client handled a reply about each (a wait's
    next lookup starts only after its previous one was handled)."""
    return all(fake.jobs[job_id].polls >= 2 for job_id in job_ids)


def task_name(task: asyncio.Task[Any]) -> str:
    return str(getattr(task.get_coro(), "__qualname__", "")).rpartition(".")[2]


def waiter_tasks() -> list[asyncio.Task[Any]]:
    """Background tasks of shared waiters (tickers, listings, fetches)."""
    return [
        task
        for task in asyncio.all_tasks()
        if getattr(task.get_coro(), "__qualname__", "").startswith("SharedPollingWaiter")
    ]


def make_client(fake: FakeUnsandbox, *, shared: bool, **keys: str) -> AsyncClient:
    config = ClientConfig(
        base_url=fake.url,
        poll_schedule=FAST,
        shared_polling=shared,
        languages_cache_path=False,
    )
    return AsyncClient(config=config, **(keys or KEYS))


@pytest.fixture(params=["per_job", "shared"])
async def client(
    request: pytest.FixtureRequest, job_fake: FakeUnsandbox
) -> AsyncIterator[AsyncClient]:
    async with make_client(job_fake, shared=request.param == "shared") as instance:
        yield instance


async def start(client: AsyncClient, code: str, count: int = JOBS) -> list[str]:
    return [await client.execute_async("python", code) for _ in range(count)]


async def wait_all(client: AsyncClient, job_ids: list[str], **options: Any) -> list[Any]:
    waits = (client.wait_for_job(job_id, **options) for job_id in job_ids)
    return await asyncio.gather(*waits, return_exceptions=True)


# -- the same scenarios, both ways ----------------------------------------------------------


async def test_success(client: AsyncClient, job_fake: FakeUnsandbox) -> None:
    job_fake.script("python", "ok", stdout="hi\n", duration=0.15)
    results = await asyncio.gather(*(client.execute_code("python", "ok") for _ in range(JOBS)))
    assert [(r.status, r.stdout, r.exit_code) for r in results] == [
        (JobStatus.COMPLETED, "hi\n", 0)
    ] * JOBS


async def test_failure_exit_code_is_a_result(client: AsyncClient, job_fake: FakeUnsandbox) -> None:
    job_fake.script("python", "bad", stderr="boom\n", exit_code=3, duration=0.1)
    results = await wait_all(client, await start(client, "bad"))
    assert all(isinstance(r, ExecutionResult) for r in results)
    assert {(r.status, r.exit_code, r.stderr, r.success) for r in results} == {
        (JobStatus.COMPLETED, 3, "boom\n", False)
    }


async def test_timeout_status(client: AsyncClient, job_fake: FakeUnsandbox) -> None:
    job_fake.script("python", "slow", status="timeout", duration=0.1)
    results = await wait_all(client, await start(client, "slow"))
    assert {(r.status, r.exit_code) for r in results} == {(JobStatus.TIMEOUT, None)}
    assert all("timed out" in (r.error or "") for r in results)


async def test_cancelled(client: AsyncClient, job_fake: FakeUnsandbox) -> None:
    job_fake.script("python", "long", duration=30)
    job_ids = await start(client, "long")
    waits = asyncio.ensure_future(wait_all(client, job_ids))
    await until(lambda: polls(job_fake) >= 1)
    for job_id in job_ids:
        await client.cancel_job(job_id)
    results = await waits
    assert {r.status for r in results} == {JobStatus.CANCELLED}


async def test_deadline_exceeded_keeps_last_state(
    client: AsyncClient, job_fake: FakeUnsandbox
) -> None:
    job_fake.script("python", "long", duration=30)
    job_ids = await start(client, "long")
    errors = await wait_all(client, job_ids, timeout=0.3)
    assert all(isinstance(e, JobTimeoutError) for e in errors)
    assert [e.job_id for e in errors] == job_ids
    assert {e.last_state.status for e in errors} == {JobStatus.RUNNING}
    assert [e.last_state.job_id for e in errors] == job_ids


async def test_unknown_status_is_not_final(client: AsyncClient, job_fake: FakeUnsandbox) -> None:
    job_fake.script("python", "odd", status="hibernating", duration=0.05)
    errors = await wait_all(client, await start(client, "odd"), timeout=0.4)
    assert all(isinstance(e, JobTimeoutError) for e in errors)
    assert {(e.last_state.status, e.last_state.raw_status) for e in errors} == {
        (JobStatus.UNKNOWN, "hibernating")
    }


async def test_not_found_grace_for_new_jobs(client: AsyncClient, job_fake: FakeUnsandbox) -> None:
    job_fake.script("python", "ok", stdout="late\n", duration=0.1)
    job_fake.inject(Fault.not_found_race(count=2, times=JOBS))
    results = await wait_all(client, await start(client, "ok"))
    assert [r.stdout for r in results] == ["late\n"] * JOBS


async def test_lost_job(client: AsyncClient, job_fake: FakeUnsandbox) -> None:
    job_fake.script("python", "long", duration=30)
    job_ids = await start(client, "long")
    waits = asyncio.ensure_future(wait_all(client, job_ids))
    await until(partial(seen, job_fake, job_ids))
    for job_id in job_ids:
        job_fake.lose_job(job_id, errors=1)
    errors = await waits
    assert all(isinstance(e, JobLostError) for e in errors)
    assert [e.job_id for e in errors] == job_ids


async def test_transient_failures_are_ridden_out(
    client: AsyncClient, job_fake: FakeUnsandbox
) -> None:
    job_fake.script("python", "ok", stdout="fine\n", duration=0.2)
    job_fake.inject(Fault.status(503, method="GET", path="/jobs", times=4))
    results = await wait_all(client, await start(client, "ok"))
    assert [r.stdout for r in results] == ["fine\n"] * JOBS


async def test_restart_while_waiting_loses_the_jobs_quickly(
    client: AsyncClient, job_fake: FakeUnsandbox
) -> None:
    job_fake.script("python", "long", duration=30)
    job_ids = await start(client, "long")
    waits = asyncio.ensure_future(wait_all(client, job_ids))
    await until(partial(seen, job_fake, job_ids))  # every job has been seen running
    loop = asyncio.get_running_loop()
    restarted = loop.time()
    job_fake.inject(Fault.restart(errors=1))  # one 503, then every job 404s
    errors = await waits
    assert loop.time() - restarted < QUICK
    # Waits whose poll (or listing) got the 503 report a lost job; the others see a job
    # they had seen answer 404, which is final at once.
    assert all(isinstance(e, JobLostError | NotFoundError) for e in errors), errors
    assert any(isinstance(e, JobLostError) for e in errors)


@pytest.mark.parametrize("listing_only", [True, False])
async def test_a_run_of_5xx_then_recovery_is_ridden_out(
    client: AsyncClient, job_fake: FakeUnsandbox, listing_only: bool
) -> None:
    job_fake.script("python", "ok", stdout="back\n", duration=0.3)
    job_ids = await start(client, "ok")
    # Listing only: longer than max_transient_errors (10); the jobs' own polls still work.
    times = 15 if listing_only else 8
    job_fake.inject(Fault.status(503, method="GET", path="/jobs", exact=listing_only, times=times))
    loop = asyncio.get_running_loop()
    started = loop.time()
    results = await wait_all(client, job_ids)
    assert [getattr(r, "stdout", r) for r in results] == ["back\n"] * JOBS
    assert loop.time() - started < QUICK


async def test_retry_after_holds_the_next_poll(
    client: AsyncClient, job_fake: FakeUnsandbox
) -> None:
    job_fake.script("python", "ok", stdout="later\n", duration=0.1)
    job_ids = await start(client, "ok")
    job_fake.inject(Fault.rate_limited(retry_after=1, method="GET", path="/jobs"))
    loop = asyncio.get_running_loop()
    started = loop.time()
    results = await wait_all(client, job_ids)
    assert [getattr(r, "stdout", r) for r in results] == ["later\n"] * JOBS
    assert loop.time() - started < QUICK
    polls = [r for r in job_fake.requests if r.method == "GET" and r.path.startswith("/jobs")]
    [limited] = [i for i, r in enumerate(polls) if r.fault is not None]
    # A 429 on a listing holds the account's next tick; on a job's poll, that job's.
    held_path = polls[limited].path
    assert (held_path == "/jobs") is client.config.shared_polling
    after = [r for r in polls[limited + 1 :] if held_path == "/jobs" or r.path == held_path]
    assert after
    assert after[0].time - polls[limited].time >= 0.9


async def test_retry_after_is_capped_by_the_deadline(
    client: AsyncClient, job_fake: FakeUnsandbox
) -> None:
    job_fake.script("python", "long", duration=30)
    job_ids = await start(client, "long")
    job_fake.inject(Fault.rate_limited(retry_after=60, method="GET", path="/jobs", times=None))
    loop = asyncio.get_running_loop()
    started = loop.time()
    errors = await wait_all(client, job_ids, timeout=0.5)
    assert all(isinstance(e, JobTimeoutError) for e in errors), errors
    assert loop.time() - started < QUICK


# -- what only the shared waiter does -------------------------------------------------------


async def test_one_listing_serves_many_jobs(job_fake: FakeUnsandbox) -> None:
    job_fake.script("python", "ok", stdout="x\n", duration=0.3)
    async with make_client(job_fake, shared=True) as client:
        job_ids = await start(client, "ok", count=10)
        job_fake.reset_stats()
        results = await wait_all(client, job_ids)
    assert [r.stdout for r in results] == ["x\n"] * 10
    assert job_fake.count_requests("GET", "/jobs") >= 1
    assert job_fake.count_requests("GET", "/jobs/") <= 2 * len(job_ids)


async def test_credentials_are_polled_separately(job_fake: FakeUnsandbox) -> None:
    other = ("unsb-pk-test-0000-0000-0002", "unsb-sk-other-other-other-other")
    job_fake.add_account(*other)
    job_fake.script("python", "ok", stdout="y\n", duration=0.2)
    async with make_client(job_fake, shared=True) as client:
        mine = await start(client, "ok", count=2)
        theirs = [
            await client.execute_async("python", "ok", public_key=other[0], secret_key=other[1])
            for _ in range(2)
        ]
        waits = [client.wait_for_job(j) for j in mine] + [
            client.wait_for_job(j, public_key=other[0], secret_key=other[1]) for j in theirs
        ]
        results = await asyncio.gather(*waits)
    assert [r.job_id for r in results] == mine + theirs
    listers = {
        r.headers["Authorization"]
        for r in job_fake.requests
        if r.method == "GET" and r.path == "/jobs"
    }
    assert listers == {f"Bearer {TEST_PUBLIC_KEY}", f"Bearer {other[0]}"}


async def test_missing_listing_falls_back_to_per_job(job_fake: FakeUnsandbox) -> None:
    job_fake.script("python", "ok", stdout="z\n", duration=0.2)
    job_fake.inject(Fault.status(404, method="GET", path="/jobs", exact=True, times=None))
    async with make_client(job_fake, shared=True) as client:
        results = await wait_all(client, await start(client, "ok"))
    assert [r.stdout for r in results] == ["z\n"] * JOBS
    # Not asked again once a 404 came back (a second tick may have asked meanwhile).
    assert job_fake.count_requests("GET", "/jobs") <= MAX_LISTINGS


@pytest.mark.parametrize("shared", [False, True])
async def test_close_fails_pending_waits(job_fake: FakeUnsandbox, shared: bool) -> None:
    job_fake.script("python", "long", duration=30)
    client = make_client(job_fake, shared=shared)
    job_ids = await start(client, "long")
    waits = asyncio.ensure_future(wait_all(client, job_ids))
    await until(lambda: polls(job_fake) >= 1)
    await client.aclose()
    errors = await waits
    assert all(isinstance(e, ClientClosedError) for e in errors)
    with pytest.raises(ClientClosedError, match="closed"):
        await client.wait_for_job(job_ids[0])


async def test_abandoned_waits_leave_no_tasks(job_fake: FakeUnsandbox) -> None:
    job_fake.script("python", "long", duration=30)
    async with make_client(job_fake, shared=True) as client:
        job_ids = await start(client, "long")
        tasks = [asyncio.ensure_future(client.wait_for_job(j)) for j in job_ids]
        await until(lambda: job_fake.count_requests("GET", "/jobs") >= 1)
        assert waiter_tasks()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await until(lambda: not waiter_tasks())  # tickers end once their waits are gone
        assert all(task.cancelled() for task in tasks)


async def test_lister_without_job_states_uses_list_jobs() -> None:
    from un_async.core.models import JobInfo

    class Listing(BaseExecutor):
        async def list_jobs(self, credentials: Credentials) -> list[JobInfo]:
            return [JobInfo(job_id="j1", status=JobStatus.RUNNING, raw_status="running")]

        submit = get_job = cancel_job = get_languages = aclose = None  # type: ignore[assignment]

    states = await Listing().list_job_states(Credentials("pk", "sk"))
    assert {job_id: entry["status"] for job_id, entry in states.items()} == {"j1": "running"}


# -- the waiter on its own ------------------------------------------------------------------

Poll = Callable[[Credentials, str], Awaitable[ExecutionResult]]


def scripted_poll(replies: dict[str, list[Any]]) -> Poll:
    async def poll(credentials: Credentials, job_id: str) -> ExecutionResult:
        reply = replies[job_id].pop(0)
        if isinstance(reply, Exception):
            raise reply
        return ExecutionResult(job_id=job_id, status=JobStatus(reply))

    return poll


@pytest.mark.parametrize("min_listed", [None, 2, 1])
async def test_too_many_transient_failures_raise(min_listed: int | None) -> None:
    """Per-job waiter, shared waiter's fast path, shared waiter listing for one wait."""
    policy = WaitPolicy(schedule=(0.01,), max_transient_errors=2)
    error = ServerError(503, {"error": "down"})
    poll = scripted_poll({"a": [error] * 3})

    async def no_listing(credentials: Credentials) -> dict[str, Any]:
        raise error

    waiter = (
        PerJobWaiter(poll, policy)
        if min_listed is None
        else SharedPollingWaiter(poll, no_listing, policy, min_listed=min_listed)
    )
    with pytest.raises(ServerError):
        await waiter.wait(Credentials("pk", "sk"), "a", deadline=None)
    await waiter.aclose()


async def test_listing_shows_terminal_then_fetches_result() -> None:
    fetched: list[str] = []

    async def poll(credentials: Credentials, job_id: str) -> ExecutionResult:
        fetched.append(job_id)
        return ExecutionResult(job_id=job_id, status=JobStatus.COMPLETED, stdout=job_id)

    async def listing(credentials: Credentials) -> dict[str, Any]:
        return {"a": {"status": "completed"}, "b": {"status": "running"}}

    # confirm_every: "b" is never fetched on its own while "a" is waited for.
    waiter = SharedPollingWaiter(poll, listing, WaitPolicy(schedule=(0.01,)), confirm_every=60)
    credentials = Credentials("pk", "sk")
    done = await waiter.wait(credentials, "a", deadline=None)
    b = asyncio.ensure_future(waiter.wait(credentials, "b", deadline=None))
    a_again = await waiter.wait(credentials, "a", deadline=None)
    assert (done.stdout, a_again.stdout) == ("a", "a")
    assert fetched == ["a", "a"]  # "b" is only ever seen running in the listing
    assert not b.done()
    b.cancel()
    await asyncio.gather(b, return_exceptions=True)
    await waiter.aclose()


@pytest.mark.parametrize("shared", [False, True])
async def test_client_argument_selects_the_waiter(job_fake: FakeUnsandbox, shared: bool) -> None:
    job_fake.script("python", "ok", duration=0.2)
    async with AsyncClient(
        base_url=job_fake.url, shared_polling=shared, languages_cache_path=False, **KEYS
    ) as client:
        assert client.config.shared_polling is shared
        job_ids = await start(client, "ok")
        await wait_all(client, job_ids)
    assert (job_fake.count_requests("GET", "/jobs") > 0) is shared


async def test_close_stops_work_that_outlived_its_waits() -> None:
    listing_started = asyncio.Event()

    async def hanging_listing(credentials: Credentials) -> dict[str, Any]:
        listing_started.set()
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    waiter = SharedPollingWaiter(
        scripted_poll({}), hanging_listing, WaitPolicy(schedule=(0.01,), jitter=0)
    )
    credentials = Credentials("pk", "sk")
    waits = [asyncio.ensure_future(waiter.wait(credentials, j, deadline=None)) for j in "ab"]
    await listing_started.wait()
    for wait in waits:
        wait.cancel()
    await asyncio.gather(*waits, return_exceptions=True)
    # The ticker sees no waits and ends; the listing hangs on.
    await until(lambda: [task_name(task) for task in waiter_tasks()] == ["_list_and_apply"])
    await waiter.aclose()
    assert waiter_tasks() == []


# -- one wait alone -------------------------------------------------------------------------


async def test_single_wait_polls_alone_in_its_own_task(job_fake: FakeUnsandbox) -> None:
    job_fake.script("python", "ok", stdout="solo\n", duration=0.2)
    async with make_client(job_fake, shared=True) as client:
        [job_id] = await start(client, "ok", count=1)
        wait = asyncio.ensure_future(client.wait_for_job(job_id))
        await until(lambda: job_fake.jobs[job_id].polls >= 2)
        assert waiter_tasks() == []  # no ticker, listing or fetch task: the caller polls
        result = await wait
    assert result.stdout == "solo\n"
    assert job_fake.count_requests("GET", "/jobs") == 0


async def test_a_second_wait_hands_the_first_over_to_listing(job_fake: FakeUnsandbox) -> None:
    # The second outlasts the first, so the first is listed until it finishes.
    job_fake.script("python", "first", stdout="1\n", duration=0.5)
    job_fake.script("python", "second", stdout="2\n", duration=0.7)
    async with make_client(job_fake, shared=True) as client:
        waiter = client._lifecycle.waiter
        assert isinstance(waiter, SharedPollingWaiter)
        first = await client.execute_async("python", "first")
        first_wait = asyncio.ensure_future(client.wait_for_job(first))
        await until(lambda: job_fake.jobs[first].polls >= 1)
        loop = asyncio.get_running_loop()
        joined = loop.time()
        polls_alone = job_fake.jobs[first].polls
        second = await client.execute_async("python", "second")
        second_wait = asyncio.ensure_future(client.wait_for_job(second))
        first_result = await first_wait
        together = loop.time() - joined
        results = [first_result, await second_wait]
    assert [r.stdout for r in results] == ["1\n", "2\n"]
    assert job_fake.count_requests("GET", "/jobs") >= 2
    # Once listed, the first job is fetched on its own only to confirm it (every
    # confirm_every seconds) and to read its result, plus a poll of its own while the
    # second was being submitted; alone, it would be polled every 20-50 ms (over 10 times).
    own = job_fake.jobs[first].polls - polls_alone
    assert own <= together / waiter.confirm_every + 3, own


async def test_close_ends_a_wait_polling_alone(job_fake: FakeUnsandbox) -> None:
    job_fake.script("python", "long", duration=30)
    slow = ClientConfig(base_url=job_fake.url, poll_schedule=(30.0,), languages_cache_path=False)
    client = AsyncClient(config=slow, **KEYS)
    [job_id] = await start(client, "long", count=1)
    wait = asyncio.ensure_future(client.wait_for_job(job_id))
    await until(lambda: waiter_sleeping(client))
    await client.aclose()
    with pytest.raises(ClientClosedError):
        await asyncio.wait_for(wait, 1.0)
    assert job_fake.jobs[job_id].polls == 0


def waiter_sleeping(client: AsyncClient) -> bool:
    waiter = client._lifecycle.waiter
    assert isinstance(waiter, SharedPollingWaiter)
    return any(solo.sleeper is not None for solo in waiter._solos.values())
