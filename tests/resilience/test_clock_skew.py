"""Clock skew (spec §2.3): a 401 blaming the timestamp is corrected from the server's
``Date`` header once, and the offset is kept for the client's lifetime."""

from __future__ import annotations

import asyncio
import logging

import pytest

from support import MakeClient
from un_async.core.errors import AuthenticationError
from un_async.testing import TEST_SECRET_KEY, FakeUnsandbox, Fault


def offset_of(client: object) -> float:
    return float(client.executor.requester.clock_offset)  # type: ignore[attr-defined]


@pytest.mark.parametrize("skew", [3600.0, -3600.0, 400.0, -86400.0])
async def test_skewed_server_clock_is_learned_once_and_kept(
    make_client: MakeClient, caplog: pytest.LogCaptureFixture, skew: float
) -> None:
    caplog.set_level(logging.WARNING, logger="un_async")
    async with FakeUnsandbox(clock_offset=skew) as fake:
        client = make_client(fake)
        assert (await client.execute_code("python", "print(1)")).stdout == "1\n"
        assert abs(offset_of(client) - skew) <= 2.0
        await asyncio.gather(client.list_jobs(), client.list_jobs(), client.get_languages())
        assert (await client.execute_code("python", "print(2)")).stdout == "2\n"
        assert fake.response_statuses[401] == 1
        assert len(fake.jobs) == 2
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "clock" in warnings[0].getMessage()
    assert TEST_SECRET_KEY not in caplog.text


async def test_concurrent_first_calls_all_recover(make_client: MakeClient) -> None:
    async with FakeUnsandbox(clock_offset=-1000) as fake:
        client = make_client(fake)
        results = await asyncio.gather(
            *(client.execute_code("python", f"print({i})") for i in range(10))
        )
        assert [r.stdout for r in results] == [f"{i}\n" for i in range(10)]
        assert len(fake.jobs) == 10  # a 401 means nothing was created; re-sending is safe


async def test_only_one_correction_per_call(fake: FakeUnsandbox, make_client: MakeClient) -> None:
    # the server blames the timestamp, but its Date header agrees with our clock
    body = {"error": "invalid_timestamp", "message": "Request timestamp expired"}
    fake.inject(Fault.status(401, body, path="/jobs", times=None))
    client = make_client(fake)
    with pytest.raises(AuthenticationError) as caught:
        await client.list_jobs()
    assert caught.value.clock_skew
    assert "NTP" in str(caught.value)
    assert fake.count_requests("GET", "/jobs") == 1
    assert offset_of(client) == 0.0


async def test_a_401_that_does_not_blame_the_timestamp_is_not_retried(
    fake: FakeUnsandbox, make_client: MakeClient
) -> None:
    fake.inject(Fault.status(401, {"error": "unauthorized", "message": "invalid signature"}))
    with pytest.raises(AuthenticationError) as caught:
        await make_client(fake).list_jobs()
    assert not caught.value.clock_skew
    assert fake.count_requests() == 1


async def test_skew_on_a_post_is_corrected_without_a_duplicate(make_client: MakeClient) -> None:
    async with FakeUnsandbox(clock_offset=7200, mode="job") as fake:
        client = make_client(fake)
        job_id = await client.execute_async("python", "print('x')")
        assert fake.count_requests("POST") == 2
        assert list(fake.jobs) == [job_id]
