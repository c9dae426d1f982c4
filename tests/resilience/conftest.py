"""Fixtures for the resilience tests (helpers live in resilience_support.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from typing import Any

import pytest
from resilience_support import MakeClient, fast_config

from un_async import AsyncClient
from un_async.testing import TEST_PUBLIC_KEY, TEST_SECRET_KEY, FakeUnsandbox


@pytest.fixture
async def make_client() -> AsyncIterator[MakeClient]:
    """Build fast clients bound to the test account; all are closed after the test."""
    async with AsyncExitStack() as stack:

        def build(target: FakeUnsandbox | str, **overrides: Any) -> AsyncClient:
            client = AsyncClient(
                config=fast_config(target, **overrides),
                public_key=TEST_PUBLIC_KEY,
                secret_key=TEST_SECRET_KEY,
            )
            stack.push_async_callback(client.aclose)
            return client

        yield build


@pytest.fixture
async def job_fake() -> AsyncIterator[FakeUnsandbox]:
    """A fake server whose ``/execute`` always answers with a pending job."""
    async with FakeUnsandbox(mode="job") as server:
        yield server
