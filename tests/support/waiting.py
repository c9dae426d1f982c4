"""Waiting for state that offers no event to wait on (the fake's request log, counters)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

__all__ = ["until"]

POLL_INTERVAL = 0.002
"""Seconds between two checks of the condition."""


async def until(condition: Callable[[], object], timeout: float = 5.0) -> None:
    """Return once ``condition()`` is true, checking every few milliseconds; raise
    :class:`AssertionError` if it is still false after ``timeout`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() >= deadline:
            raise AssertionError(f"condition still false after {timeout} s")
        await asyncio.sleep(POLL_INTERVAL)
