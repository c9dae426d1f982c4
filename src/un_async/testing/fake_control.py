"""Fake-only control endpoints, for a server running in another process: ``GET
/_fake/stats`` (counters) and ``POST /_fake/reset`` (forget requests and counters).
Unauthenticated, and never counted, recorded, delayed or faulted (see the pipeline)."""

from __future__ import annotations

from aiohttp import web

from .fake_state import FakeState
from .http_replies import json_response

__all__ = ["FakeControlRoutes"]


class FakeControlRoutes:
    """``/_fake/*`` handlers over the shared state."""

    def __init__(self, state: FakeState) -> None:
        self.state = state

    def register(self, router: web.UrlDispatcher) -> None:
        """Add this group's routes to ``router``."""
        router.add_get("/_fake/stats", self.stats)
        router.add_post("/_fake/reset", self.reset)

    async def stats(self, request: web.Request) -> web.StreamResponse:
        """The state's :meth:`~FakeState.stats`."""
        return json_response(self.state.stats())

    async def reset(self, request: web.Request) -> web.StreamResponse:
        """:meth:`~FakeState.reset_stats`, then ``{"status": "ok"}``."""
        self.state.reset_stats()
        return json_response({"status": "ok"})
