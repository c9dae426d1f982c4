"""Resource calls under record/replay: a session created, used and deleted (with its sudo
challenge) is recorded against the fake server and replayed offline, at the execution
level (``RecordingExecutor``/``ReplayExecutor``, through ``api_call``) and at the HTTP
level (``CassetteTransport``, signatures re-verified)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from support import CREDENTIALS, KEYS, fast_config
from support.resource_calls import OTP
from un_async import AsyncClient
from un_async.backends.replay import (
    CassetteTransport,
    RecordingExecutor,
    ReplayExecutor,
    reset_shared_sessions,
)
from un_async.backends.unsandbox import AiohttpTransport, UnsandboxBackend
from un_async.core.plugin_host import default_host
from un_async.testing import FakeUnsandbox


@pytest.fixture(autouse=True)
def _fresh_shared_sessions() -> None:
    reset_shared_sessions()


async def _session_round_trip(client: AsyncClient, *, replaying: bool) -> list[Any]:
    asked: list[str] = []

    async def otp(challenge_id: str) -> str:
        asked.append(challenge_id)
        return OTP

    session = await client.sessions.create(multiplexer="tmux", audit=True)
    shell = await client.sessions.shell(session.id, "echo recorded")
    deleted = await client.sessions.delete(session.id, otp=otp)
    assert len(asked) == (0 if replaying else 1)  # a replay holds the final outcome
    return [session, shell, deleted]


async def test_execution_level(fake: FakeUnsandbox, tmp_path: Path) -> None:
    fake.sudo_otp = OTP
    cassette = tmp_path / "sessions.json"
    config = fast_config(fake)
    recording = RecordingExecutor(UnsandboxBackend(config, default_host()), cassette)
    async with AsyncClient(config=config, backend=recording, **KEYS) as client:
        recorded = await _session_round_trip(client, replaying=False)
    await fake.stop()
    requests_seen = fake.request_count

    async with AsyncClient(config=fast_config(), backend=ReplayExecutor(cassette)) as client:
        replayed = await _session_round_trip(client, replaying=True)

    assert fake.request_count == requests_seen
    assert [type(r) for r in replayed] == [type(r) for r in recorded]
    assert [dict(r) for r in replayed] == [dict(r) for r in recorded]
    assert replayed[1].stdout == "recorded\n"
    assert replayed[2]["shell_history"] == ["echo recorded"]
    assert OTP not in cassette.read_text(encoding="utf-8")


async def test_http_level(fake: FakeUnsandbox, tmp_path: Path) -> None:
    fake.sudo_otp = OTP
    cassette = tmp_path / "sessions.http.json"

    def client_over(transport: CassetteTransport) -> AsyncClient:
        config = fast_config(fake)
        backend = UnsandboxBackend(config, default_host(), transport=transport)
        return AsyncClient(config=config, backend=backend, **KEYS)

    recording = CassetteTransport(cassette, mode="all", inner=AiohttpTransport(fake.url))
    async with client_over(recording) as client:
        recorded = await _session_round_trip(client, replaying=False)
    await fake.stop()
    requests_seen = fake.request_count

    # The recorded 428 and its answered retry are replayed as they happened.
    async with client_over(CassetteTransport(cassette, credentials=CREDENTIALS)) as client:
        replayed = await _session_round_trip(client, replaying=False)

    assert fake.request_count == requests_seen
    assert [dict(r) for r in replayed] == [dict(r) for r in recorded]
    assert OTP not in cassette.read_text(encoding="utf-8")
