"""Knowing when the fake server has finished with a request, even one whose client has
already hung up (the request log only says when a request arrived)."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable

from aiohttp import web

from un_async.testing import FakeUnsandbox

__all__ = ["HandlerWatch", "watch_handlers"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class HandlerWatch:
    """How many requests per path the server has finished handling (answered, failed or
    aborted); fed by an outermost aiohttp middleware."""

    def __init__(self) -> None:
        self.finished: Counter[str] = Counter()
        self._waiters: list[asyncio.Event] = []

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        finally:
            self.finished[request.path] += 1
            for waiter in self._waiters:
                waiter.set()
            self._waiters.clear()

    async def wait_finished(self, path: str, count: int = 1, timeout: float = 5.0) -> None:
        """Return once ``count`` requests to ``path`` have been handled; fail after
        ``timeout`` seconds."""
        async with asyncio.timeout(timeout):
            while self.finished[path] < count:
                waiter = asyncio.Event()
                self._waiters.append(waiter)
                await waiter.wait()


def watch_handlers(fake: FakeUnsandbox) -> HandlerWatch:
    """Watch ``fake``'s request handlers; call before the server starts."""
    watch = HandlerWatch()
    fake.app.middlewares.insert(0, watch.middleware)
    return watch
