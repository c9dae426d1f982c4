"""Deadlines and cancellation: abandoned jobs are cancelled on the server, and
``CancelledError``/``TimeoutError`` always reach the caller."""

from __future__ import annotations

import asyncio
import logging

import pytest

from support import MakeClient, until
from un_async import AsyncClient
from un_async.core.errors import JobTimeoutError
from un_async.testing import FakeUnsandbox, Fault


def deletes(fake: FakeUnsandbox) -> int:
    return fake.count_requests("DELETE", "/jobs/")


@pytest.fixture
def long_jobs(job_fake: FakeUnsandbox) -> FakeUnsandbox:
    job_fake.default_duration = 60
    return job_fake


async def test_deadline_cancels_the_job_and_raises(
    long_jobs: FakeUnsandbox, make_client: MakeClient
) -> None:
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(JobTimeoutError) as caught:
        await make_client(long_jobs).execute_code("python", "print(1)", timeout=0.2)
    assert loop.time() - started < 5
    [job_id] = long_jobs.jobs
    assert caught.value.job_id == job_id
    assert deletes(long_jobs) == 1
    assert long_jobs.job_status(job_id) == "cancelled"


async def test_client_default_deadline_applies(
    long_jobs: FakeUnsandbox, make_client: MakeClient
) -> None:
    with pytest.raises(JobTimeoutError):
        await make_client(long_jobs, wait_timeout=0.2).execute_code("python", "print(1)")
    assert deletes(long_jobs) == 1


async def test_per_call_opt_out_leaves_the_job_running(
    long_jobs: FakeUnsandbox, make_client: MakeClient
) -> None:
    with pytest.raises(JobTimeoutError):
        await make_client(long_jobs).execute_code(
            "python", "print(1)", timeout=0.2, cancel_on_timeout=False
        )
    assert deletes(long_jobs) == 0
    [job_id] = long_jobs.jobs
    assert long_jobs.job_status(job_id) in ("pending", "running")


async def test_client_wide_opt_out(long_jobs: FakeUnsandbox, make_client: MakeClient) -> None:
    client = make_client(long_jobs, cancel_on_abandon=False)
    with pytest.raises(JobTimeoutError):
        await client.execute_code("python", "print(1)", timeout=0.2)
    assert deletes(long_jobs) == 0


async def test_cancelling_the_awaiting_task_cancels_the_job_and_propagates(
    long_jobs: FakeUnsandbox, make_client: MakeClient
) -> None:
    client = make_client(long_jobs)
    task = asyncio.create_task(client.execute_code("python", "print(1)"))
    await until(lambda: long_jobs.count_requests("GET", "/jobs/") >= 1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert task.cancelled()
    await client.aclose()  # waits for the background DELETE
    [job_id] = long_jobs.jobs
    assert deletes(long_jobs) == 1
    assert long_jobs.job_status(job_id) == "cancelled"


async def test_outer_timeout_is_a_cancellation_too(
    long_jobs: FakeUnsandbox, make_client: MakeClient
) -> None:
    client = make_client(long_jobs)
    with pytest.raises(TimeoutError) as caught:
        async with asyncio.timeout(0.1):
            await client.execute_code("python", "print(1)")
    assert not isinstance(caught.value, JobTimeoutError)  # asyncio's own, passed through
    await client.aclose()
    assert deletes(long_jobs) == 1


async def test_cancel_during_submission_propagates_and_frees_the_slot(
    fake: FakeUnsandbox, make_client: MakeClient
) -> None:
    # Held long enough to cancel the caller mid-submission, short enough that closing the
    # client (which lets the abandoned submission finish and cancels its job) is quick.
    fake.inject(Fault.delay(0.5, method="POST", path="/execute"))
    client = make_client(fake, max_concurrency=1)
    task = asyncio.create_task(client.execute_code("python", "print(1)"))
    await until(lambda: fake.count_requests("POST", "/execute") == 1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert client.governor.in_flight == 0
    fake.clear_faults()
    assert (await client.execute_code("python", "print(2)")).stdout == "2\n"


async def test_cancel_while_queued_for_a_slot(
    long_jobs: FakeUnsandbox, make_client: MakeClient
) -> None:
    client = make_client(long_jobs, max_concurrency=1)
    holder = asyncio.create_task(client.execute_code("python", "print(1)"))
    queued = asyncio.create_task(client.execute_code("python", "print(2)"))
    await until(lambda: client.governor.waiting == 1 and len(long_jobs.jobs) == 1)
    queued.cancel()
    with pytest.raises(asyncio.CancelledError):
        await queued
    assert (client.governor.waiting, client.governor.in_flight) == (0, 1)
    holder.cancel()
    with pytest.raises(asyncio.CancelledError):
        await holder
    assert client.governor.in_flight == 0
    assert len(long_jobs.jobs) == 1  # the queued call never submitted


async def test_queued_call_times_out_before_submitting(
    long_jobs: FakeUnsandbox, make_client: MakeClient
) -> None:
    client = make_client(long_jobs, max_concurrency=1)
    holder = asyncio.create_task(client.execute_code("python", "print(1)"))
    await until(lambda: len(long_jobs.jobs) == 1)
    with pytest.raises(JobTimeoutError, match="not accepted"):
        await client.execute_code("python", "print(2)", timeout=0.05)
    assert len(long_jobs.jobs) == 1
    holder.cancel()
    with pytest.raises(asyncio.CancelledError):
        await holder


async def test_a_failing_cancel_does_not_hide_the_timeout(
    long_jobs: FakeUnsandbox, make_client: MakeClient, caplog: pytest.LogCaptureFixture
) -> None:
    long_jobs.inject(Fault.status(500, method="DELETE", times=None))
    caplog.set_level(logging.WARNING, logger="un_async")
    with pytest.raises(JobTimeoutError):
        await make_client(long_jobs).execute_code("python", "print(1)", timeout=0.2)
    assert deletes(long_jobs) >= 1
    assert any("could not cancel" in r.getMessage() for r in caplog.records)


async def test_cancellation_during_the_abandon_cancel_is_not_swallowed(
    long_jobs: FakeUnsandbox, make_client: MakeClient
) -> None:
    long_jobs.inject(Fault.delay(30, method="DELETE"))
    client = make_client(long_jobs)
    task = asyncio.create_task(client.execute_code("python", "print(1)", timeout=0.2))
    await until(lambda: deletes(long_jobs) == 1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert task.cancelled()
    await long_jobs.stop()  # drops the held DELETE, so closing the client is quick
    await client.aclose()


async def test_wait_for_job_cancels_only_when_asked(
    long_jobs: FakeUnsandbox, make_client: MakeClient
) -> None:
    client = make_client(long_jobs)
    job_id = await client.execute_async("python", "print(1)")
    with pytest.raises(JobTimeoutError):
        await client.wait_for_job(job_id, timeout=0.05)
    assert deletes(long_jobs) == 0
    with pytest.raises(JobTimeoutError):
        await client.wait_for_job(job_id, timeout=0.05, cancel_on_timeout=True)
    assert deletes(long_jobs) == 1
    assert long_jobs.job_status(job_id) == "cancelled"


async def test_no_task_outlives_the_client(long_jobs: FakeUnsandbox) -> None:
    before = asyncio.all_tasks()
    client = AsyncClient(
        base_url=long_jobs.url,
        public_key="unsb-pk-test-0000-0000-0001",
        secret_key="unsb-sk-test1-test2-test3-test4",
        languages_cache_path=False,
    )
    tasks = [asyncio.create_task(client.execute_code("python", f"print({i})")) for i in range(5)]
    await until(lambda: len(long_jobs.jobs) == 5)
    for task in tasks:
        task.cancel()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert all(isinstance(r, asyncio.CancelledError) for r in results)
    await client.aclose()
    leftover = [
        task
        for task in asyncio.all_tasks() - before
        if not task.get_coro().__qualname__.startswith("RequestHandler.")  # the fake's side
    ]
    assert leftover == []
    assert all(long_jobs.job_status(job_id) == "cancelled" for job_id in long_jobs.jobs)


async def test_a_hanging_cancel_does_not_hold_the_timeout_past_a_short_grace(
    long_jobs: FakeUnsandbox, make_client: MakeClient
) -> None:
    long_jobs.inject(Fault.delay(60, method="DELETE"))
    client = make_client(long_jobs, abandon_cancel_grace=0.1)
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(JobTimeoutError):
        await client.execute_code("python", "print(1)", timeout=0.2)
    assert loop.time() - started < 3  # not the DELETE's 60 s, nor the 10 s cancel budget
    assert deletes(long_jobs) == 1  # still in flight, in the background
    await long_jobs.stop()  # drops the held DELETE, so closing the client is quick
    await client.aclose()
