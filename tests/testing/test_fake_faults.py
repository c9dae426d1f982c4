"""Fault injection: status faults, resets, malformed and streamed bodies, delays, restarts,
lost jobs, error mixes, and clients that give up mid-request.

Spoken to over real loopback HTTP with a raw aiohttp client and an independent signer
(:mod:`support.signed_http`).
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections import Counter
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import aiohttp
import pytest

from support.handler_watch import watch_handlers
from support.signed_http import PRINT_HI, send
from un_async.testing import FakeUnsandbox, Fault, LatencyModel, error_mix

pytestmark = pytest.mark.usefixtures("no_server_errors")


async def test_status_fault_times_and_scope(
    fake: FakeUnsandbox, http: aiohttp.ClientSession
) -> None:
    fault = fake.inject(Fault.status(503, times=2, method="POST", path="/execute"))
    assert (await send(http, fake, "GET", "/jobs")).status == 200
    first = await send(http, fake, "POST", "/execute", PRINT_HI)
    assert first.json() == {
        "error": "service_unavailable",
        "message": "Service temporarily unavailable",
    }
    assert (await send(http, fake, "POST", "/execute/async", PRINT_HI)).status == 503
    assert (await send(http, fake, "POST", "/execute", PRINT_HI)).status == 200
    assert (fault.fired, fault.exhausted) == (2, True)
    assert len(fake.jobs) == 1


async def test_status_fault_custom_body_and_headers(
    fake: FakeUnsandbox, http: aiohttp.ClientSession
) -> None:
    fake.inject(Fault.status(502, "<html>bad gateway</html>", {"X-Proxy": "nginx"}))
    reply = await send(http, fake, "GET", "/jobs")
    assert (reply.status, reply.body) == (502, b"<html>bad gateway</html>")
    assert reply.headers["X-Proxy"] == "nginx"
    assert reply.headers["Content-Type"].startswith("text/plain")


async def test_429_retry_after_seconds_and_http_date(
    fake: FakeUnsandbox, http: aiohttp.ClientSession
) -> None:
    when = datetime(2030, 1, 1, tzinfo=UTC)
    fake.inject(Fault.rate_limited(retry_after=2))
    fake.inject(Fault.status(429, retry_after=when))
    fake.inject(Fault.concurrency_limited(active=3, limit=3))
    seconds = await send(http, fake, "GET", "/jobs")
    assert (seconds.status, seconds.headers["Retry-After"]) == (429, "2")
    assert seconds.json()["error"] == "rate_limit_exceeded"
    dated = await send(http, fake, "GET", "/jobs")
    assert parsedate_to_datetime(dated.headers["Retry-After"]) == when
    limited = (await send(http, fake, "GET", "/jobs")).json()
    assert (limited["error"], limited["active_executions"]) == ("concurrency_limit_reached", 3)


async def test_fault_after_and_forever(fake: FakeUnsandbox, http: aiohttp.ClientSession) -> None:
    fake.inject(Fault.status(500, after=1, times=None, path="/jobs", exact=True))
    statuses = [(await send(http, fake, "GET", "/jobs")).status for _ in range(4)]
    assert statuses == [200, 500, 500, 500]
    assert (await send(http, fake, "GET", "/jobs/x")).status == 404


def test_fault_path_matching() -> None:
    prefix = Fault.status(500, path="/jobs")
    assert prefix.matches("GET", "/jobs")
    assert prefix.matches("GET", "/jobs/abc")
    assert not prefix.matches("GET", "/jobsx")
    regex = Fault.status(500, path=re.compile(r"^/jobs/[^/]+$"), method="get")
    assert regex.matches("GET", "/jobs/abc")
    assert not regex.matches("GET", "/jobs")
    assert not regex.matches("DELETE", "/jobs/abc")
    with pytest.raises(ValueError, match="start with"):
        Fault.status(500, path="jobs")
    with pytest.raises(ValueError, match="rate"):
        Fault.status(500, rate=1.5)


async def test_fault_rate_is_seeded(http: aiohttp.ClientSession) -> None:
    patterns = []
    for _ in range(2):
        async with FakeUnsandbox(seed=7) as fake:
            fault = fake.inject(Fault.status(503, rate=0.5))
            assert fault.times is None
            statuses = [
                (await send(http, fake, "GET", "/health", auth=False)).status for _ in range(60)
            ]
            patterns.append(statuses)
            assert 15 <= fault.fired <= 45
    assert patterns[0] == patterns[1]


async def test_reset_before_read_processes_nothing(
    fake: FakeUnsandbox, http: aiohttp.ClientSession
) -> None:
    fake.inject(Fault.reset_before_read(method="POST"))
    with pytest.raises((aiohttp.ServerDisconnectedError, aiohttp.ClientOSError)):
        await send(http, fake, "POST", "/execute", PRINT_HI)
    assert fake.jobs == {}
    assert fake.requests[-1].fault == "reset_before_read"
    assert fake.requests[-1].body == b""
    assert (await send(http, fake, "POST", "/execute", PRINT_HI)).status == 200


async def test_reset_after_read_processes_the_request(
    fake: FakeUnsandbox, http: aiohttp.ClientSession
) -> None:
    fake.inject(Fault.reset_after_read(path="/execute"))
    with pytest.raises((aiohttp.ServerDisconnectedError, aiohttp.ClientOSError)):
        await send(http, fake, "POST", "/execute", PRINT_HI)
    assert len(fake.jobs) == 1
    assert fake.requests[-1].json() == PRINT_HI


async def test_truncated_body(fake: FakeUnsandbox, http: aiohttp.ClientSession) -> None:
    fake.inject(Fault.truncated_body())
    with pytest.raises(aiohttp.ClientPayloadError):
        await send(http, fake, "POST", "/execute", PRINT_HI)
    assert len(fake.jobs) == 1


async def test_malformed_non_json_and_empty_204(
    fake: FakeUnsandbox, http: aiohttp.ClientSession
) -> None:
    fake.inject(Fault.malformed_json())
    fake.inject(Fault.non_json(502, "<h1>Bad Gateway</h1>"))
    fake.inject(Fault.empty_204())
    malformed = await send(http, fake, "GET", "/jobs")
    assert malformed.status == 200
    assert malformed.headers["Content-Type"].startswith("application/json")
    with pytest.raises(json.JSONDecodeError):
        malformed.json()
    html = await send(http, fake, "GET", "/jobs")
    assert (html.status, html.body) == (502, b"<h1>Bad Gateway</h1>")
    assert html.headers["Content-Type"].startswith("text/html")
    empty = await send(http, fake, "GET", "/jobs")
    assert (empty.status, empty.body) == (204, b"")
    assert (await send(http, fake, "GET", "/jobs")).status == 200


async def test_streamed_fault_sends_a_chunked_body(
    fake: FakeUnsandbox, http: aiohttp.ClientSession
) -> None:
    fake.inject(Fault.streamed({"jobs": [], "pad": "x" * 40_000}, chunk_size=1000))
    fake.inject(Fault.streamed("upstream page", 502))
    reply = await send(http, fake, "GET", "/jobs")
    assert reply.status == 200
    assert reply.headers["Transfer-Encoding"] == "chunked"
    assert "Content-Length" not in reply.headers
    assert "Date" in reply.headers
    assert reply.json() == {"jobs": [], "pad": "x" * 40_000}
    page = await send(http, fake, "GET", "/jobs")
    assert (page.status, page.body) == (502, b"upstream page")
    assert page.headers["Content-Type"].startswith("application/octet-stream")
    assert fake.response_statuses[502] == 1
    with pytest.raises(ValueError, match="chunk_size"):
        Fault.streamed("x", chunk_size=0)


async def test_streamed_fault_to_a_client_that_hangs_up_is_silent(
    http: aiohttp.ClientSession,
) -> None:
    fake = FakeUnsandbox()
    handlers = watch_handlers(fake)
    async with fake:
        fake.inject(Fault.streamed(b"x" * 4_000_000, chunk_size=4096))
        async with http.get(fake.url + "/health") as response:
            assert len(await response.content.read(10)) > 0
            response.close()
        await handlers.wait_finished("/health")  # the server noticed and stopped streaming
        assert (await send(http, fake, "GET", "/health")).status == 200


async def test_delay_fault_stacks_with_status(
    fake: FakeUnsandbox, http: aiohttp.ClientSession
) -> None:
    fake.inject(Fault.delay(0.15, path="/jobs"))
    fake.inject(Fault.status(504, path="/jobs"))
    started = time.monotonic()
    assert (await send(http, fake, "GET", "/jobs")).status == 504
    assert time.monotonic() - started >= 0.14


async def test_restart_fault_then_jobs_are_gone(http: aiohttp.ClientSession) -> None:
    async with FakeUnsandbox(mode="job", default_duration=60) as fake:
        job_id = (await send(http, fake, "POST", "/execute", PRINT_HI)).json()["job_id"]
        fake.inject(Fault.restart(errors=2, status=502, path="/jobs"))
        statuses = [(await send(http, fake, "GET", f"/jobs/{job_id}")).status for _ in range(4)]
        assert statuses == [502, 502, 404, 404]
        assert fake.jobs[job_id].lost
        new_id = (await send(http, fake, "POST", "/execute", PRINT_HI)).json()["job_id"]
        assert (await send(http, fake, "GET", f"/jobs/{new_id}")).status == 200


async def test_lose_job(fake: FakeUnsandbox, http: aiohttp.ClientSession) -> None:
    job_id = (await send(http, fake, "POST", "/execute", PRINT_HI)).json()["job_id"]
    fake.lose_job(job_id, errors=1, status=503)
    statuses = [(await send(http, fake, "GET", f"/jobs/{job_id}")).status for _ in range(3)]
    assert statuses == [503, 404, 404]
    assert (await send(http, fake, "GET", "/jobs")).json() == {"jobs": []}


async def test_not_found_race(http: aiohttp.ClientSession) -> None:
    async with FakeUnsandbox(mode="job") as fake:
        fake.inject(Fault.not_found_race(count=2))
        first = (await send(http, fake, "POST", "/execute/async", PRINT_HI)).json()["job_id"]
        second = (await send(http, fake, "POST", "/execute", PRINT_HI)).json()["job_id"]
        statuses = [(await send(http, fake, "GET", f"/jobs/{first}")).status for _ in range(3)]
        assert statuses == [404, 404, 200]
        assert (await send(http, fake, "GET", f"/jobs/{second}")).status == 200


async def test_faults_apply_before_auth(fake: FakeUnsandbox, http: aiohttp.ClientSession) -> None:
    fake.inject(Fault.status(503))
    assert (await send(http, fake, "GET", "/jobs", auth=False)).status == 503


async def test_clear_faults(fake: FakeUnsandbox, http: aiohttp.ClientSession) -> None:
    fake.inject(Fault.status(503, times=None))
    assert (await send(http, fake, "GET", "/health", auth=False)).status == 503
    fake.clear_faults()
    assert (await send(http, fake, "GET", "/health", auth=False)).status == 200


@pytest.mark.parametrize("where", ["fault_delay", "sync_wait", "latency"])
async def test_client_giving_up_mid_request_is_silent(where: str) -> None:
    options: dict[str, Any] = {
        "mode": "sync",
        "default_duration": 0.3 if where == "sync_wait" else 0,
    }
    if where == "latency":
        options["latency"] = LatencyModel.fixed(0.3)
    fake = FakeUnsandbox(**options)
    handlers = watch_handlers(fake)
    async with fake:
        if where == "fault_delay":
            fake.inject(Fault.delay(0.3))
        timeout = aiohttp.ClientTimeout(total=0.05)
        async with aiohttp.ClientSession(timeout=timeout) as http:
            with pytest.raises(asyncio.TimeoutError):
                await send(http, fake, "POST", "/execute", PRINT_HI)
        await handlers.wait_finished("/execute")  # the server finished the abandoned request
        async with aiohttp.ClientSession() as http:
            fake.latency = None
            assert (await send(http, fake, "GET", "/health", auth=False)).status == 200


async def test_error_mix_hits_each_status_at_its_rate(
    fake: FakeUnsandbox, http: aiohttp.ClientSession
) -> None:
    for fault in error_mix({429: 0.1, 500: 0.2, 503: 0.3}, path="/health"):
        fake.inject(fault)
    statuses = Counter([(await send(http, fake, "GET", "/health")).status for _ in range(2000)])
    for status, rate in ((429, 0.1), (500, 0.2), (503, 0.3), (200, 0.4)):
        assert abs(statuses[status] / 2000 - rate) < 0.04, (status, statuses)
    with pytest.raises(ValueError, match="sum"):
        error_mix({500: 0.7, 503: 0.5})
