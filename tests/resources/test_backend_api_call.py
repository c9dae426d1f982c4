"""``UnsandboxBackend.api_call``: the one request path of the resource API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from types import MappingProxyType

import pytest

from support import CREDENTIALS, fast_config
from un_async import ServerError, SudoRequiredError, ValidationError
from un_async.backends.unsandbox import UnsandboxBackend
from un_async.core.plugin_host import default_host
from un_async.plugins.signing import signature
from un_async.testing import TEST_SECRET_KEY, FakeUnsandbox, Fault, FaultKind, RecordedRequest


@pytest.fixture
async def backend(fake: FakeUnsandbox) -> AsyncIterator[UnsandboxBackend]:
    instance = UnsandboxBackend(fast_config(fake), default_host())
    yield instance
    await instance.aclose()


def _signed_over(request: RecordedRequest, body: bytes) -> bool:
    """Whether ``request`` carries the signature of its bare path and ``body``."""
    headers = request.headers
    expected = signature(
        TEST_SECRET_KEY, headers["X-Timestamp"], request.method, request.path, body
    )
    return bool(headers["X-Signature"] == expected)


async def test_a_json_body_is_sent_as_signed(
    fake: FakeUnsandbox, backend: UnsandboxBackend
) -> None:
    session_id = fake.add_session()
    body = MappingProxyType({"command": "echo é"})  # any mapping; non-ASCII kept as UTF-8

    reply = await backend.api_call(
        CREDENTIALS, "sessions.shell", "POST", f"/sessions/{session_id}/shell", body=body
    )

    request = fake.requests[-1]
    assert request.body == '{"command":"echo é"}'.encode()
    assert request.headers["Content-Type"] == "application/json"
    assert _signed_over(request, request.body)
    assert reply["stdout"] == "é\n"


async def test_a_text_body_is_plain_text_signed_as_sent(
    fake: FakeUnsandbox, backend: UnsandboxBackend
) -> None:
    service_id = fake.add_service()
    await backend.api_call(
        CREDENTIALS, "services.set_env", "PUT", f"/services/{service_id}/env", text="K=v\n"
    )
    request = fake.requests[-1]
    assert (request.body, request.headers["Content-Type"]) == (b"K=v\n", "text/plain")
    assert _signed_over(request, b"K=v\n")


async def test_bodies_are_checked_before_sending(
    fake: FakeUnsandbox, backend: UnsandboxBackend
) -> None:
    with pytest.raises(ValidationError, match="not both"):
        await backend.api_call(CREDENTIALS, "x", "PUT", "/services/s/env", body={}, text="")
    with pytest.raises(ValidationError, match="64 KB"):
        await backend.api_call(CREDENTIALS, "x", "PUT", "/services/s/env", text="x" * 65_537)
    assert fake.request_count == 0


async def test_the_query_is_sent_but_not_signed(
    fake: FakeUnsandbox, backend: UnsandboxBackend
) -> None:
    reply = await backend.api_call(
        CREDENTIALS, "sessions.create", "POST", "/sessions", body={}, query={"audit": "1"}
    )
    request = fake.requests[-1]
    assert (request.path, dict(request.query)) == ("/sessions", {"audit": "1"})
    assert _signed_over(request, b"{}")
    assert fake.sessions[reply["id"]].audit


async def test_reads_are_retried_and_writes_are_not(
    fake: FakeUnsandbox, backend: UnsandboxBackend
) -> None:
    session_id = fake.add_session()
    fake.inject(Fault(kind=FaultKind.STATUS, status_code=502, times=1))
    reply = await backend.api_call(CREDENTIALS, "sessions.get", "GET", f"/sessions/{session_id}")
    assert reply["id"] == session_id
    assert fake.count_requests("GET", f"/sessions/{session_id}") == 2

    fake.inject(Fault(kind=FaultKind.STATUS, status_code=502, times=1))
    with pytest.raises(ServerError):
        await backend.api_call(CREDENTIALS, "sessions.create", "POST", "/sessions", body={})
    assert fake.count_requests("POST", "/sessions") == 1


async def test_a_sudo_challenge_is_answered_by_the_callback(
    fake: FakeUnsandbox, backend: UnsandboxBackend
) -> None:
    fake.sudo_otp = "7777"
    session_id = fake.add_session()
    asked: list[str] = []

    async def answer(challenge_id: str) -> str:
        asked.append(challenge_id)
        return "7777"

    await backend.api_call(
        CREDENTIALS, "sessions.delete", "DELETE", f"/sessions/{session_id}", sudo=answer
    )
    assert len(asked) == 1
    assert session_id not in fake.sessions
    with pytest.raises(SudoRequiredError):
        await backend.api_call(
            CREDENTIALS, "sessions.delete", "DELETE", f"/sessions/{fake.add_session()}"
        )
