"""``client.sessions`` against the fake server: each method's happy path, and the 400,
409, 428 and 429 refusals (404 and unsupported backends: ``test_error_paths``)."""

from __future__ import annotations

import base64

import pytest

from support.resource_calls import only_request
from un_async import (
    AsyncClient,
    BadRequestError,
    ConflictError,
    PermissionDeniedError,
    RateLimitError,
    SudoRequiredError,
    ValidationError,
)
from un_async.resources import Session, ShellResult
from un_async.testing import TEST_PUBLIC_KEY, FakeUnsandbox

PYTHON_SHELL = "python3"


async def test_list_returns_the_accounts_sessions(
    fake: FakeUnsandbox, api: AsyncClient, other_key: str
) -> None:
    mine = {fake.add_session(), fake.add_session(multiplexer="tmux")}
    fake.add_session(other_key)

    sessions = await api.sessions.list()

    assert {s.id for s in sessions} == mine
    assert all(isinstance(s, Session) and s["session_id"] == s.id for s in sessions)


async def test_get_gives_typed_fields(fake: FakeUnsandbox, api: AsyncClient) -> None:
    session_id = fake.add_session(vcpu=2)

    session = await api.sessions.get(session_id)

    assert (session.id, session.status, session.vcpu) == (session_id, "running", 2)
    assert session.container_name == fake.sessions[session_id].container_name
    assert session.memory_mb == 4096  # any key reads as an attribute


async def test_create_sends_every_option(fake: FakeUnsandbox, api: AsyncClient) -> None:
    count = len(fake.requests)

    session = await api.sessions.create(
        network_mode="semitrusted",
        ttl=900,
        shell=PYTHON_SHELL,
        multiplexer="screen",
        vcpu=3,
        input_files={"data.csv": b"a,b\n"},
        audit=True,
    )

    request = only_request(fake, count)
    assert (request.method, request.path, dict(request.query)) == (
        "POST",
        "/sessions",
        {"audit": "1"},
    )
    assert request.json() == {
        "network_mode": "semitrusted",
        "ttl": 900,
        "shell": "python3",
        "multiplexer": "screen",
        "vcpu": 3,
        "input_files": [{"filename": "data.csv", "content": base64.b64encode(b"a,b\n").decode()}],
    }
    stored = fake.sessions[session.id]
    assert (stored.vcpu, stored.multiplexer, stored.audit, stored.input_files) == (
        3,
        "screen",
        True,
        ["data.csv"],
    )


async def test_create_sends_only_the_defaults_it_must(
    fake: FakeUnsandbox, api: AsyncClient
) -> None:
    count = len(fake.requests)
    session = await api.sessions.create()
    assert only_request(fake, count).json() == {"network_mode": "zerotrust", "ttl": 3600}
    assert session.status == "running"


@pytest.mark.parametrize(
    "options",
    [
        {"vcpu": 9},
        {"vcpu": True},
        {"network_mode": "open"},
        {"multiplexer": "byobu"},
        {"ttl": 0},
        {"input_files": {"x": 5}},
    ],
)
async def test_create_refuses_bad_options_before_sending(
    options: dict[str, object], fake: FakeUnsandbox, api: AsyncClient
) -> None:
    with pytest.raises(ValidationError):
        await api.sessions.create(**options)  # type: ignore[arg-type]
    assert fake.request_count == 0


async def test_create_past_the_vcpu_budget_is_a_rate_limit(
    fake: FakeUnsandbox, api: AsyncClient
) -> None:
    fake.vcpu_limit = 2
    with pytest.raises(RateLimitError) as info:
        await api.sessions.create(vcpu=3)
    assert info.value.is_concurrency_limit
    assert info.value.message == "Would exceed tier concurrency"


async def test_delete_answers_the_sudo_challenge(
    fake: FakeUnsandbox, api: AsyncClient, sudo: str
) -> None:
    session_id = fake.add_session(audit=True, history=["ls"])
    count = len(fake.requests)

    reply = await api.sessions.delete(session_id, otp=sudo)

    first, second = fake.requests[count:]
    assert (first.method, first.path, second.path) == (
        "DELETE",
        f"/sessions/{session_id}",
        first.path,
    )
    assert "X-Sudo-OTP" not in first.headers
    assert second.headers["X-Sudo-OTP"] == sudo
    assert (reply.id, reply.status, reply["shell_history"]) == (session_id, "terminated", ["ls"])
    assert session_id not in fake.sessions


async def test_delete_without_a_code_raises_the_challenge(
    fake: FakeUnsandbox, api: AsyncClient, sudo: str
) -> None:
    session_id = fake.add_session()
    with pytest.raises(SudoRequiredError) as info:
        await api.sessions.delete(session_id)
    assert info.value.status == 428
    assert info.value.challenge_id in fake.sudo_challenges
    assert session_id in fake.sessions


async def test_delete_with_a_wrong_code_is_refused(
    fake: FakeUnsandbox, api: AsyncClient, sudo: str
) -> None:
    session_id = fake.add_session()
    with pytest.raises(PermissionDeniedError, match="invalid one-time code"):
        await api.sessions.delete(session_id, otp="000000")
    assert session_id in fake.sessions


async def test_freeze_and_unfreeze(fake: FakeUnsandbox, api: AsyncClient) -> None:
    session_id = fake.add_session(multiplexer="tmux")
    count = len(fake.requests)

    frozen = await api.sessions.freeze(session_id)
    running = await api.sessions.unfreeze(session_id)

    assert [(r.path, r.body) for r in fake.requests[count:]] == [
        (f"/sessions/{session_id}/freeze", b"{}"),
        (f"/sessions/{session_id}/unfreeze", b"{}"),
    ]
    assert (frozen.status, frozen.message) == ("frozen", "Session frozen")
    assert running.status == "running"


async def test_freeze_without_a_multiplexer_is_a_bad_request(
    fake: FakeUnsandbox, api: AsyncClient
) -> None:
    with pytest.raises(BadRequestError) as info:
        await api.sessions.freeze(fake.add_session())
    assert info.value.error == "freeze_not_allowed"


async def test_unfreeze_past_the_concurrency_budget_is_a_rate_limit(
    fake: FakeUnsandbox, api: AsyncClient
) -> None:
    fake.vcpu_limit = 1
    fake.add_session()
    frozen = fake.add_session(multiplexer="tmux", status="frozen")

    with pytest.raises(RateLimitError) as info:
        await api.sessions.unfreeze(frozen)

    assert (info.value.active_executions, info.value.concurrency_limit) == (1, 1)
    assert fake.sessions[frozen].status == "frozen"


async def test_boost_sends_the_vcpu_count_and_unboost_restores(
    fake: FakeUnsandbox, api: AsyncClient
) -> None:
    session_id = fake.add_session()
    count = len(fake.requests)

    boosted = await api.sessions.boost(session_id, 4)
    back = await api.sessions.unboost(session_id)

    assert [r.json() for r in fake.requests[count:]] == [{"vcpu": 4}, {}]
    assert (boosted.vcpu, boosted["boosted"]) == (4, True)
    assert (back.vcpu, back["boosted"]) == (1, False)


async def test_boost_errors(fake: FakeUnsandbox, api: AsyncClient) -> None:
    frozen = fake.add_session(multiplexer="tmux", status="frozen")
    with pytest.raises(ConflictError) as conflict:
        await api.sessions.boost(frozen)
    assert conflict.value.error == "session_not_running"

    fake.vcpu_limit = 2
    with pytest.raises(RateLimitError):
        await api.sessions.boost(fake.add_session(), 8)

    with pytest.raises(ValidationError):
        await api.sessions.boost(fake.add_session(), 0)


async def test_shell_runs_a_command(fake: FakeUnsandbox, api: AsyncClient) -> None:
    session_id = fake.add_session()
    fake.script("bash", "make test", stdout="ok\n", stderr="warn\n", exit_code=2)

    result = await api.sessions.shell(session_id, "make test")

    assert isinstance(result, ShellResult)
    assert (result.stdout, result.stderr, result.exit_code, result.success) == (
        "ok\n",
        "warn\n",
        2,
        False,
    )
    assert fake.requests[-1].json() == {"command": "make test"}


async def test_execute_is_shell(fake: FakeUnsandbox, api: AsyncClient) -> None:
    result = await api.sessions.execute(fake.add_session(), "echo same")
    assert (result.stdout, result.success) == ("same\n", True)


async def test_shell_errors(fake: FakeUnsandbox, api: AsyncClient) -> None:
    frozen = fake.add_session(multiplexer="tmux", status="frozen")
    with pytest.raises(ConflictError, match="unfreeze it first"):
        await api.sessions.shell(frozen, "ls")
    count = fake.request_count
    with pytest.raises(ValidationError):
        await api.sessions.shell(frozen, "  ")
    assert fake.request_count == count


async def test_snapshot_of_a_session(fake: FakeUnsandbox, api: AsyncClient) -> None:
    session_id = fake.add_session()

    snapshot = await api.sessions.snapshot(session_id, name="before-upgrade", hot=True)

    assert fake.requests[-1].path == f"/sessions/{session_id}/snapshot"
    assert fake.requests[-1].json() == {"hot": True, "name": "before-upgrade"}
    assert (snapshot.id, snapshot.source_type, snapshot.source_id, snapshot.hot) == (
        snapshot["snapshot_id"],
        "session",
        session_id,
        True,
    )
    assert snapshot.id in fake.snapshots


async def test_snapshot_on_the_free_tier_is_forbidden(
    fake: FakeUnsandbox, api: AsyncClient
) -> None:
    fake.accounts[TEST_PUBLIC_KEY].tier = "free"
    with pytest.raises(PermissionDeniedError, match="free tier"):
        await api.sessions.snapshot(fake.add_session())
