"""Replay in record mode ``none`` opens no socket and needs no credentials."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from support.replay import same
from un_async import AsyncClient
from un_async.backends.replay import CassetteTransport
from un_async.backends.unsandbox import AiohttpTransport, UnsandboxBackend
from un_async.core.config import ClientConfig
from un_async.core.credentials import Credentials
from un_async.core.plugin_host import default_host
from un_async.testing import TEST_PUBLIC_KEY, TEST_SECRET_KEY, FakeUnsandbox


class NetworkUsed(Exception):
    """Raised by every patched way of opening a connection."""


def block_network(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Make every connection attempt raise :class:`NetworkUsed`; return the attempt log."""
    attempts: list[str] = []

    def refuse(name: str) -> Callable[..., Any]:
        def blocked(*args: object, **kwargs: object) -> Any:
            attempts.append(name)
            raise NetworkUsed(name)

        return blocked

    def refuse_async(name: str) -> Callable[..., Any]:
        async def blocked(*args: object, **kwargs: object) -> Any:
            attempts.append(name)
            raise NetworkUsed(name)

        return blocked

    loop = asyncio.get_running_loop()
    for name in ("connect", "connect_ex"):
        monkeypatch.setattr(socket.socket, name, refuse(f"socket.{name}"))
    monkeypatch.setattr(socket, "create_connection", refuse("socket.create_connection"))
    monkeypatch.setattr(socket, "getaddrinfo", refuse("socket.getaddrinfo"))
    for name in ("create_connection", "sock_connect", "getaddrinfo"):
        monkeypatch.setattr(loop, name, refuse_async(f"loop.{name}"))
    monkeypatch.setattr(aiohttp.ClientSession, "__init__", refuse("aiohttp.ClientSession"))
    return attempts


async def test_mode_none_replays_both_levels_with_the_network_blocked(
    fake: FakeUnsandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code = 'print("offline")'
    execution_file = tmp_path / "offline.json"
    http_file = tmp_path / "offline.http.json"
    monkeypatch.setenv("UN_ASYNC_BACKEND", "replay")
    monkeypatch.setenv("UN_ASYNC_CASSETTE", str(execution_file))
    monkeypatch.setenv("UN_ASYNC_RECORD_MODE", "once")
    keys = {"public_key": TEST_PUBLIC_KEY, "secret_key": TEST_SECRET_KEY}
    config = ClientConfig(base_url=fake.url, languages_cache_path=False, shared_polling=False)
    async with AsyncClient(base_url=fake.url, languages_cache_path=False, **keys) as client:
        recorded = await client.execute_code("python", code)
    transport = CassetteTransport(http_file, mode="once", inner=AiohttpTransport(fake.url))
    backend = UnsandboxBackend(config, default_host(), transport=transport)
    async with AsyncClient(config=config, backend=backend, **keys) as client:
        recorded_http = await client.execute_code("python", code)
    await fake.stop()

    attempts = block_network(monkeypatch)
    async with AsyncClient(base_url=fake.url, languages_cache_path=False, backend="unsandbox") as c:
        with pytest.raises(NetworkUsed):  # the guard catches a live client
            await c.execute_code("python", code, **keys)
    assert attempts
    attempts.clear()

    monkeypatch.setenv("UN_ASYNC_RECORD_MODE", "none")
    async with AsyncClient(languages_cache_path=False) as client:  # no credentials at all
        replayed = await client.execute_code("python", code)
    transport = CassetteTransport(http_file, credentials=Credentials(**keys))
    backend = UnsandboxBackend(config, default_host(), transport=transport)
    async with AsyncClient(config=config, backend=backend, **keys) as client:
        replayed_http = await client.execute_code("python", code)

    assert attempts == []
    assert same(recorded, replayed)
    assert same(recorded_http, replayed_http)
    assert replayed.stdout == "offline\n"
