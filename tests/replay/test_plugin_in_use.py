"""The pytest plugin as a user meets it: these tests replay cassettes committed under
``tests/cassettes/test_plugin_in_use/``. Re-record them against the fake server with::

    pytest tests/replay/test_plugin_in_use.py --un-async-record-mode=all
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from record_examples import DEAD_URL

from un_async import AsyncClient, ClientConfig, JobStatus
from un_async.backends.replay import CassetteTransport, ReplayExecutor
from un_async.testing import TEST_PUBLIC_KEY, TEST_SECRET_KEY, FakeUnsandbox
from un_async_pytest import CassetteBinding

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
async def un_async_client_options(un_async_record_mode: str) -> AsyncIterator[dict[str, Any]]:
    """Replay talks to nothing; recording talks to a fake whose jobs take a moment."""
    settings = {"poll_schedule": (0.01,), "languages_cache_path": False, "shared_polling": False}
    if un_async_record_mode == "none":
        yield {"config": ClientConfig(base_url=DEAD_URL, **settings)}
        return
    async with FakeUnsandbox(mode="job", queue_delay=0.03, default_duration=0.03) as fake:
        yield {
            "config": ClientConfig(base_url=fake.url, **settings),
            "public_key": TEST_PUBLIC_KEY,
            "secret_key": TEST_SECRET_KEY,
        }


async def test_a_client_bound_to_this_tests_cassette(
    un_async_client: AsyncClient, un_async_cassette: CassetteBinding, un_async_record_mode: str
) -> None:
    result = await un_async_client.execute_code("python", 'print("from a cassette")')
    job_id = await un_async_client.execute_async("python", "print(2)")
    final = await un_async_client.wait_for_job(job_id)

    assert result.stdout == "from a cassette\n"
    assert (final.status, final.stdout) == (JobStatus.COMPLETED, "2\n")
    expected = (
        ROOT / "tests/cassettes/test_plugin_in_use/test_a_client_bound_to_this_tests_cassette.json"
    )
    assert un_async_cassette.path == expected
    if un_async_record_mode == "none":
        assert isinstance(un_async_client.executor, ReplayExecutor)


@pytest.mark.un_async_cassette("shared/languages")
async def test_a_cassette_named_by_marker(
    un_async_client: AsyncClient, un_async_cassette: CassetteBinding
) -> None:
    languages = await un_async_client.get_languages()
    assert {"python", "go", "rust"} <= set(languages)
    assert un_async_cassette.path == ROOT / "tests/cassettes/shared/languages.json"


async def test_http_exchanges_replay_with_their_signatures_checked(
    un_async_http_client: AsyncClient, un_async_record_mode: str
) -> None:
    job_id = await un_async_http_client.execute_async("bash", "echo polled")
    states = [await un_async_http_client.get_job(job_id)]
    while not states[-1].is_final:
        await asyncio.sleep(0.045)  # when recording, the fake's job queues and runs 0.03 s each
        states.append(await un_async_http_client.get_job(job_id))

    assert states[-1].stdout == "polled\n"
    assert states[0].status is JobStatus.PENDING
    if un_async_record_mode == "none":
        transport = un_async_http_client.executor.transport  # type: ignore[attr-defined]
        assert isinstance(transport, CassetteTransport)
        assert transport.session.index.remaining() == 0
