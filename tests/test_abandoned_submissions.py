"""A submission the caller gives up on is never forgotten.

If the deadline passes or the awaiting task is cancelled while ``POST /execute`` is still
in flight, the request is left to finish in the background and the job it reports is
cancelled on the server (when cancel-on-abandon is on, the default).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from support import KEYS, until
from un_async import AsyncClient, ClientConfig, JobTimeoutError
from un_async.testing import FakeUnsandbox, Fault

SLOW_SUBMIT = 0.3  # the server processes POST /execute only after this many seconds


@pytest.fixture
async def slow_fake() -> AsyncIterator[FakeUnsandbox]:
    async with FakeUnsandbox(mode="job", default_duration=30.0) as server:
        server.inject(Fault.delay(SLOW_SUBMIT, method="POST", path="/execute"))
        yield server


async def test_deadline_during_submission_cancels_the_job_it_created(
    slow_fake: FakeUnsandbox,
) -> None:
    client = AsyncClient(base_url=slow_fake.url, **KEYS)
    with pytest.raises(JobTimeoutError, match="no reply to the submission") as caught:
        await client.execute_code("python", "print('slow')", timeout=0.1)
    assert caught.value.job_id is None
    await client.aclose()  # waits (bounded) for the abandoned submission to settle
    [job_id] = slow_fake.jobs
    assert slow_fake.job_status(job_id) == "cancelled"
    assert slow_fake.count_requests("DELETE", f"/jobs/{job_id}") == 1


async def test_cancelling_the_caller_during_submission_cancels_the_job(
    slow_fake: FakeUnsandbox,
) -> None:
    client = AsyncClient(base_url=slow_fake.url, **KEYS)
    call = asyncio.create_task(client.execute_code("python", "print('slow')"))
    await until(lambda: slow_fake.count_requests("POST", "/execute"))  # held for SLOW_SUBMIT
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call
    await client.aclose()
    [job_id] = slow_fake.jobs
    assert slow_fake.job_status(job_id) == "cancelled"


async def test_without_cancel_on_abandon_the_job_keeps_running(slow_fake: FakeUnsandbox) -> None:
    client = AsyncClient(base_url=slow_fake.url, cancel_on_abandon=False, **KEYS)
    with pytest.raises(JobTimeoutError):
        await client.execute_code("python", "print('slow')", timeout=0.1)
    await client.aclose()
    [job_id] = slow_fake.jobs
    assert slow_fake.job_status(job_id) in {"pending", "running"}
    assert slow_fake.count_requests("DELETE") == 0


async def test_close_does_not_wait_forever_for_an_abandoned_submission() -> None:
    async with FakeUnsandbox(mode="sync") as fake:
        fake.inject(Fault.delay(60.0, method="POST", path="/execute"))
        config = ClientConfig(base_url=fake.url, abandon_cancel_timeout=0.2)
        client = AsyncClient(config=config, **KEYS)
        with pytest.raises(JobTimeoutError):
            await client.execute_code("python", "print(1)", timeout=0.1)
        loop = asyncio.get_running_loop()
        started = loop.time()
        await client.aclose()
        assert loop.time() - started < 30  # bounded by abandon_cancel_timeout, not by 60 s
        assert not client._lifecycle._background
