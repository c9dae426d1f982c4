"""Routing and bookkeeping: public and unknown routes, the request log, counters and the
stats endpoint.

Spoken to over real loopback HTTP with a raw aiohttp client and an independent signer
(:mod:`support.signed_http`).
"""

from __future__ import annotations

import aiohttp
import pytest

from support.signed_http import PRINT_HI, send
from un_async.testing import TEST_PUBLIC_KEY, FakeUnsandbox, Fault

pytestmark = pytest.mark.usefixtures("no_server_errors")


async def test_health_get_and_head_without_auth(
    fake: FakeUnsandbox, http: aiohttp.ClientSession
) -> None:
    assert (await send(http, fake, "GET", "/health", auth=False)).status == 200
    head = await send(http, fake, "HEAD", "/health", auth=False)
    assert (head.status, head.body) == (200, b"")


async def test_unknown_route_and_method_are_json(
    fake: FakeUnsandbox, http: aiohttp.ClientSession
) -> None:
    missing = await send(http, fake, "GET", "/nope")
    assert (missing.status, missing.json()["error"]) == (404, "not_found")
    wrong = await send(http, fake, "PUT", "/execute", PRINT_HI)
    assert (wrong.status, wrong.json()["error"]) == (405, "method_not_allowed")
    assert "POST" in wrong.headers["Allow"]


async def test_requests_are_recorded(fake: FakeUnsandbox, http: aiohttp.ClientSession) -> None:
    await send(http, fake, "POST", "/execute?x=1", PRINT_HI, signed_path="/execute")
    record = fake.requests[-1]
    assert (record.method, record.path, record.query) == ("POST", "/execute", {"x": "1"})
    assert record.json() == PRINT_HI
    assert record.headers["Authorization"] == f"Bearer {TEST_PUBLIC_KEY}"
    assert record.peer is not None
    assert record.peer[0] == "127.0.0.1"
    assert record.fault is None
    assert fake.count_requests("POST", "/execute") == 1
    assert fake.count_requests(path="/") == 1


async def test_connection_count(fake: FakeUnsandbox) -> None:
    async with aiohttp.ClientSession() as pooled:
        for _ in range(5):
            await send(pooled, fake, "GET", "/health", auth=False)
    assert (fake.request_count, fake.connection_count) == (5, 1)
    fake.reset_stats()
    connector = aiohttp.TCPConnector(force_close=True)
    async with aiohttp.ClientSession(connector=connector) as fresh:
        for _ in range(3):
            await send(fresh, fake, "GET", "/health", auth=False)
    assert (fake.request_count, fake.connection_count, len(fake.requests)) == (3, 3, 3)
    assert len({r.peer for r in fake.requests}) == 3


async def test_stats_endpoint(fake: FakeUnsandbox, http: aiohttp.ClientSession) -> None:
    await send(http, fake, "POST", "/execute", PRINT_HI)
    fake.inject(Fault.status(503, times=None))
    stats = (await send(http, fake, "GET", "/_fake/stats", auth=False)).json()
    assert stats == {
        "requests": 1,
        "connections": 1,
        "jobs": 1,
        "active_jobs": 0,
        "statuses": {"200": 1},
    }
    await send(http, fake, "POST", "/_fake/reset", auth=False)
    assert (fake.request_count, fake.requests) == (0, [])


async def test_record_requests_off(http: aiohttp.ClientSession) -> None:
    async with FakeUnsandbox(record_requests=False) as fake:
        await send(http, fake, "GET", "/health", auth=False)
        assert (fake.requests, fake.request_count) == ([], 1)
