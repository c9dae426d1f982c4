"""Fixtures for the record/replay tests: clients that record against the fake server."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from support import fast_config
from support.replay import replayer
from un_async import AsyncClient
from un_async.backends.replay import RecordingExecutor, reset_shared_sessions
from un_async.backends.unsandbox import UnsandboxBackend
from un_async.core.plugin_host import default_host
from un_async.testing import TEST_PUBLIC_KEY, TEST_SECRET_KEY, FakeUnsandbox


@pytest.fixture(autouse=True)
def _fresh_shared_sessions() -> None:
    """Each test starts with no process-wide cassette sessions."""
    reset_shared_sessions()


@pytest.fixture
def cassette_file(tmp_path: Path) -> Path:
    """Where a test writes its cassette."""
    return tmp_path / "cassettes" / "recording.json"


@pytest.fixture
def recorder(fake: FakeUnsandbox, cassette_file: Path) -> Callable[..., AsyncClient]:
    """``recorder(**config)``: a client recording to ``cassette_file`` against the fake."""

    def make(**overrides: Any) -> AsyncClient:
        config = fast_config(base_url=fake.url, **overrides)
        inner = UnsandboxBackend(config, default_host())
        return AsyncClient(
            config=config,
            backend=RecordingExecutor(inner, cassette_file),
            public_key=TEST_PUBLIC_KEY,
            secret_key=TEST_SECRET_KEY,
        )

    return make


@pytest.fixture
async def replay_client(cassette_file: Path) -> AsyncIterator[Callable[..., AsyncClient]]:
    """``replay_client(**options)``: replay ``cassette_file``; closed at teardown."""
    made: list[AsyncClient] = []

    def make(**options: Any) -> AsyncClient:
        made.append(replayer(cassette_file, **options))
        return made[-1]

    yield make
    for client in made:
        await client.aclose()
