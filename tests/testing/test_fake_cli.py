"""``python -m un_async.testing``: the fake server in a separate process.

Spoken to over real loopback HTTP with a raw aiohttp client and an independent signer
(:mod:`support.signed_http`).
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
import time
from pathlib import Path

import aiohttp
import pytest
import trustme

from support.signed_http import PRINT_HI, sign
from support.tls import client_context
from un_async.testing import TEST_PUBLIC_KEY, TEST_SECRET_KEY

pytestmark = pytest.mark.usefixtures("no_server_errors")


async def _spawn(*args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "un_async.testing",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def _url_of(process: asyncio.subprocess.Process) -> str:
    assert process.stdout is not None
    line = await asyncio.wait_for(process.stdout.readline(), timeout=20)
    return line.decode().strip()


async def _terminate(process: asyncio.subprocess.Process) -> bytes:
    process.terminate()
    _, stderr = await asyncio.wait_for(process.communicate(), timeout=10)
    assert process.returncode == 0
    return stderr


async def test_cli_prints_url_and_serves() -> None:
    process = await _spawn("--host", "127.0.0.1", "--port", "0", "--mode", "job", "--print-url")
    try:
        url = await _url_of(process)
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", url)
        async with aiohttp.ClientSession() as http:
            async with http.get(url + "/health") as resp:
                assert resp.status == 200
            body = json.dumps(PRINT_HI).encode()
            ts = str(int(time.time()))
            headers = {
                "Authorization": f"Bearer {TEST_PUBLIC_KEY}",
                "X-Timestamp": ts,
                "X-Signature": sign(TEST_SECRET_KEY, ts, "POST", "/execute", body),
            }
            async with http.post(url + "/execute", data=body, headers=headers) as resp:
                assert (await resp.json())["status"] == "pending"
            async with http.get(url + "/_fake/stats") as resp:
                assert (await resp.json())["jobs"] == 1
    finally:
        stderr = await _terminate(process)
    assert stderr == b""


async def test_cli_serves_tls(tls_files: tuple[trustme.CA, Path, Path]) -> None:
    ca, cert_file, key_file = tls_files
    process = await _spawn("--tls-cert", str(cert_file), "--tls-key", str(key_file))
    try:
        url = await _url_of(process)
        assert url.startswith("https://127.0.0.1:")
        connector = aiohttp.TCPConnector(ssl=client_context(ca))
        async with (
            aiohttp.ClientSession(connector=connector) as http,
            http.get(url + "/health") as resp,
        ):
            assert resp.status == 200
    finally:
        await _terminate(process)


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.1"])  # noqa: S104 - never bound
async def test_cli_refuses_non_loopback_host(host: str) -> None:
    process = await _spawn("--host", host)
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=20)
    assert process.returncode == 2
    assert stdout == b""
    assert b"--allow-remote" in stderr
