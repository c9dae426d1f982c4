"""Limits: concurrent executions per account and the request rate.

Spoken to over real loopback HTTP with a raw aiohttp client and an independent signer
(:mod:`support.signed_http`).
"""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from support.signed_http import PRINT_HI, send
from un_async.testing import FakeUnsandbox

pytestmark = pytest.mark.usefixtures("no_server_errors")


async def test_concurrency_limit(http: aiohttp.ClientSession) -> None:
    async with FakeUnsandbox(mode="job", default_duration=60, concurrency_limit=2) as fake:
        first = (await send(http, fake, "POST", "/execute", PRINT_HI)).json()["job_id"]
        await send(http, fake, "POST", "/execute/async", PRINT_HI)
        refused = await send(http, fake, "POST", "/execute", PRINT_HI)
        assert refused.status == 429
        assert refused.json() == {
            "error": "concurrency_limit_reached",
            "message": "Concurrency limit reached",
            "active_executions": 2,
            "concurrency_limit": 2,
        }
        await send(http, fake, "DELETE", f"/jobs/{first}")
        assert (await send(http, fake, "POST", "/execute", PRINT_HI)).status == 200
        fake.advance(61)
        assert fake.active_jobs() == 0


async def test_rate_limit_with_retry_after(http: aiohttp.ClientSession) -> None:
    async with FakeUnsandbox(rate_limit=(2, 60)) as fake:
        statuses = [(await send(http, fake, "GET", "/jobs")).status for _ in range(3)]
        assert statuses == [200, 200, 429]
        reply = await send(http, fake, "GET", "/jobs")
        assert reply.json()["error"] == "rate_limit_exceeded"
        assert 1 <= int(reply.headers["Retry-After"]) <= 30
        assert (await send(http, fake, "GET", "/health", auth=False)).status == 200


async def test_rate_limit_without_retry_after(http: aiohttp.ClientSession) -> None:
    async with FakeUnsandbox(rate_limit=(1, 60), rate_limit_retry_after=False) as fake:
        await send(http, fake, "GET", "/jobs")
        reply = await send(http, fake, "GET", "/jobs")
        assert reply.status == 429
        assert "Retry-After" not in reply.headers


async def test_rate_limit_refills(http: aiohttp.ClientSession) -> None:
    async with FakeUnsandbox(rate_limit=(1, 0.1)) as fake:
        await send(http, fake, "GET", "/jobs")
        assert (await send(http, fake, "GET", "/jobs")).status == 429
        await asyncio.sleep(0.12)  # not synchronisation: the bucket refills in real time
        assert (await send(http, fake, "GET", "/jobs")).status == 200
