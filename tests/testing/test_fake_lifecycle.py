"""The server's lifecycle: any aiohttp runner, stopping while requests are held,
restarting in place, and TLS.

Spoken to over real loopback HTTP with a raw aiohttp client and an independent signer
(:mod:`support.signed_http`).
"""

from __future__ import annotations

import asyncio
import ssl
import time
from pathlib import Path

import aiohttp
import pytest
import trustme

from support import until
from support.signed_http import PRINT_HI, send
from support.tls import client_context
from un_async.testing import FakeUnsandbox, Fault

pytestmark = pytest.mark.usefixtures("no_server_errors")


async def test_app_runs_under_any_runner(http: aiohttp.ClientSession) -> None:
    from aiohttp import web

    fake = FakeUnsandbox()
    runner = web.AppRunner(fake.app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        port = runner.addresses[0][1]
        async with http.get(f"http://127.0.0.1:{port}/health") as resp:
            assert resp.status == 200
    finally:
        await runner.cleanup()


async def test_stop_does_not_wait_for_held_requests() -> None:
    fake = FakeUnsandbox(mode="sync", default_duration=30)
    await fake.start()
    async with aiohttp.ClientSession() as http:
        request = asyncio.create_task(send(http, fake, "POST", "/execute", PRINT_HI))
        await until(lambda: fake.jobs)  # the request is being held
        started = time.monotonic()
        await fake.stop()
        assert time.monotonic() - started < 3
        with pytest.raises(aiohttp.ClientError):
            await request


async def test_restart_in_place_keeps_url_and_state() -> None:
    fake = FakeUnsandbox(mode="job")
    async with fake, aiohttp.ClientSession() as http:
        url = fake.url
        job_id = (await send(http, fake, "POST", "/execute", PRINT_HI)).json()["job_id"]
    async with fake, aiohttp.ClientSession() as http:
        assert fake.url == url
        assert (await send(http, fake, "GET", f"/jobs/{job_id}")).status == 200


async def test_in_process_tls(tls_files: tuple[trustme.CA, Path, Path]) -> None:
    ca, cert_file, key_file = tls_files
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert_file, key_file)
    async with FakeUnsandbox(ssl_context=server_context) as fake:
        assert fake.url.startswith("https://127.0.0.1:")
        connector = aiohttp.TCPConnector(ssl=client_context(ca))
        async with aiohttp.ClientSession(connector=connector) as http:
            assert (await send(http, fake, "POST", "/execute", PRINT_HI)).status == 200
            fake.inject(Fault.reset_after_read())
            with pytest.raises((aiohttp.ServerDisconnectedError, aiohttp.ClientOSError)):
                await send(http, fake, "POST", "/execute", PRINT_HI)
