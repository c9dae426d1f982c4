"""Shared helpers of the resilience tests: fast retry/poll settings for clients built
against the fake server, so faults are ridden out in milliseconds."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from un_async import AsyncClient
from un_async.core.config import ClientConfig
from un_async.core.retry import RetryPolicy
from un_async.testing import FakeUnsandbox

__all__ = ["FAST_RETRY", "MakeClient", "fast_config", "until"]

FAST_RETRY = RetryPolicy(
    max_attempts=4, base_delay=0.001, max_delay=0.005, retry_after_cap=0.02, deadline=10.0
)

MakeClient = Callable[..., AsyncClient]
"""``make_client(fake_or_url, **config_fields)`` (the fixture in conftest.py)."""


def fast_config(target: FakeUnsandbox | str, **overrides: Any) -> ClientConfig:
    """A config for the fake (or URL) with fast retries/polls and no languages cache."""
    values: dict[str, Any] = {
        "base_url": target if isinstance(target, str) else target.url,
        "poll_schedule": (0.01,),
        "retry": FAST_RETRY,
        "languages_cache_path": False,
        "wait_timeout": 10.0,
    }
    values.update(overrides)
    return ClientConfig(**values)


async def until(condition: Callable[[], object], timeout: float = 5.0) -> None:
    """Yield to the loop until ``condition()`` is true (state of the fake or the client,
    which offers no event to wait on)."""
    async with asyncio.timeout(timeout):
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.002)
