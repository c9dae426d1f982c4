"""Shared fixtures: an isolated environment, the fake server and a client bound to it.

Every test runs with ``HOME`` and the working directory in a temporary folder and with
all ``UNSANDBOX_*``/``UN_ASYNC_*`` variables removed, so no real credentials, caches or
accounts files are read or written.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from un_async import AsyncClient
from un_async.testing import TEST_PUBLIC_KEY, TEST_SECRET_KEY, FakeUnsandbox


@pytest.fixture(autouse=True)
def isolated_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private HOME and working directory; no unsandbox variables."""
    home = tmp_path / "isolated-home"
    work = tmp_path / "isolated-cwd"
    home.mkdir()
    work.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for name in list(os.environ):
        if name.startswith(("UNSANDBOX_", "UN_ASYNC_")):
            monkeypatch.delenv(name)
    monkeypatch.chdir(work)
    return home


@pytest.fixture
async def fake() -> AsyncIterator[FakeUnsandbox]:
    """A fake unsandbox server on 127.0.0.1 (finished jobs answer synchronously)."""
    async with FakeUnsandbox() as server:
        yield server


@pytest.fixture
def fake_env(fake: FakeUnsandbox, monkeypatch: pytest.MonkeyPatch) -> FakeUnsandbox:
    """Point the module-level functions at the fake server with its test account."""
    monkeypatch.setenv("UNSANDBOX_API_URL", fake.url)
    monkeypatch.setenv("UNSANDBOX_PUBLIC_KEY", TEST_PUBLIC_KEY)
    monkeypatch.setenv("UNSANDBOX_SECRET_KEY", TEST_SECRET_KEY)
    return fake


@pytest.fixture
async def client(fake: FakeUnsandbox) -> AsyncIterator[AsyncClient]:
    """An :class:`AsyncClient` bound to the fake server with the test account."""
    async with AsyncClient(
        base_url=fake.url, public_key=TEST_PUBLIC_KEY, secret_key=TEST_SECRET_KEY
    ) as instance:
        yield instance
