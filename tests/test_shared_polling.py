"""Shared polling waits exactly like per-job polling, with fewer requests.

Every scenario runs with both waiters and three concurrent waits, so the shared waiter
takes its listing path (``GET /jobs`` per tick) rather than its single-job shortcut.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

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
from un_async.core.shared_polling import MAX_LISTINGS, SharedPollingWaiter, job_lister
from un_async.core.waiting import PerJobWaiter, WaitPolicy
from un_async.testing import TEST_PUBLIC_KEY, TEST_SECRET_KEY, FakeUnsandbox, Fault

KEYS = {"public_key": TEST_PUBLIC_KEY, "secret_key": TEST_SECRET_KEY}
FAST = (0.02, 0.03, 0.05)
JOBS = 3
QUICK = 5.0
"""Seconds within which failure scenarios must end: half the default 404 grace (10 s)."""


@pytest.fixture
async def job_fake() -> AsyncIterator[FakeUnsandbox]:
    async with FakeUnsandbox(mode="job") as server:
        yield server


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
    await asyncio.sleep(0.15)
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
    await asyncio.sleep(0.2)
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
    await asyncio.sleep(0.2)  # every job has been seen running
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
    await asyncio.sleep(0.1)
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
        await asyncio.sleep(0.1)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await asyncio.sleep(0.1)
        pollers = [
            task
            for task in asyncio.all_tasks()
            if getattr(task.get_coro(), "__qualname__", "").startswith("SharedPollingWaiter")
        ]
        assert pollers == []
        assert all(task.cancelled() for task in tasks)


async def test_lister_without_job_states_uses_list_jobs() -> None:
    class Listing:
        async def list_jobs(self, credentials: Credentials) -> list[Any]:
            from un_async.core.models import JobInfo

            return [JobInfo(job_id="j1", status=JobStatus.RUNNING, raw_status="running")]

    states = await job_lister(Listing())(Credentials("pk", "sk"))  # type: ignore[arg-type]
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


@pytest.mark.parametrize("shared", [False, True])
async def test_too_many_transient_failures_raise(shared: bool) -> None:
    policy = WaitPolicy(schedule=(0.01,), max_transient_errors=2)
    error = ServerError(503, {"error": "down"})
    poll = scripted_poll({"a": [error] * 3})

    async def no_listing(credentials: Credentials) -> dict[str, Any]:
        raise error

    waiter = SharedPollingWaiter(poll, no_listing, policy) if shared else PerJobWaiter(poll, policy)
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

    waiter = SharedPollingWaiter(poll, listing, WaitPolicy(schedule=(0.01,)))
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
    await asyncio.sleep(0.05)  # the ticker sees no waits and ends; the listing hangs on
    await waiter.aclose()
    leftover = [
        task
        for task in asyncio.all_tasks()
        if getattr(task.get_coro(), "__qualname__", "").startswith("SharedPollingWaiter")
    ]
    assert leftover == []
