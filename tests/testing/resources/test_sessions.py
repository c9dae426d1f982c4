"""Session endpoints of the fake server (spec §3.4): a happy and an error path per route."""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable

from support.signed_http import Reply
from un_async.testing import FakeUnsandbox

Call = Callable[..., Awaitable[Reply]]


async def test_list_shows_only_the_callers_sessions(
    fake: FakeUnsandbox, call: Call, other_key: str
) -> None:
    mine = [fake.add_session(), fake.add_session()]
    fake.add_session(other_key)

    listed = (await call("GET", "/sessions")).json()

    assert listed["count"] == 2
    assert sorted(s["id"] for s in listed["sessions"]) == sorted(mine)


async def test_list_needs_a_signature(call: Call) -> None:
    reply = await call("GET", "/sessions", auth=False)
    assert (reply.status, reply.json()["error"]) == (401, "unauthorized")


async def test_create_with_every_option(fake: FakeUnsandbox, call: Call) -> None:
    files = [{"filename": "data.txt", "content": base64.b64encode(b"hi").decode()}]
    options = {
        "network_mode": "semitrusted",
        "ttl": 600,
        "shell": "python3",
        "multiplexer": "tmux",
        "vcpu": 2,
        "input_files": files,
    }

    reply = await call("POST", "/sessions?audit=1", options)

    body = reply.json()
    assert reply.status == 200
    assert body["id"] == body["session_id"]
    assert body["id"].startswith("unsb-session-")
    assert body["container_name"].startswith("unsb-vm-")
    assert {k: body[k] for k in ("network_mode", "ttl", "shell", "multiplexer", "vcpu")} == {
        k: options[k] for k in ("network_mode", "ttl", "shell", "multiplexer", "vcpu")
    }
    assert (body["status"], body["memory_mb"], body["audit"]) == ("running", 4096, True)
    assert fake.sessions[body["id"]].input_files == ["data.txt"]


async def test_create_defaults_and_the_bash_clients_network_key(call: Call) -> None:
    body = (await call("POST", "/sessions", {"network": "semitrusted"})).json()
    assert (body["shell"], body["ttl"], body["vcpu"], body["multiplexer"]) == (
        "bash",
        3600,
        1,
        None,
    )
    assert body["network_mode"] == "semitrusted"
    assert body["audit"] is False


async def test_create_rejects_bad_options(fake: FakeUnsandbox, call: Call) -> None:
    for options in (
        {"multiplexer": "byobu"},
        {"vcpu": 9},
        {"network_mode": "open"},
        {"ttl": 0},
        {"input_files": [{"filename": "x", "content": "not base64!"}]},
    ):
        reply = await call("POST", "/sessions", options)
        assert reply.status == 400, options
    assert fake.sessions == {}


async def test_get(fake: FakeUnsandbox, call: Call) -> None:
    session_id = (await call("POST", "/sessions", {"shell": "zsh"})).json()["id"]
    body = (await call("GET", f"/sessions/{session_id}")).json()
    assert (body["id"], body["shell"], body["status"]) == (session_id, "zsh", "running")


async def test_get_another_accounts_session_is_not_found(
    fake: FakeUnsandbox, call_other: Call
) -> None:
    session_id = fake.add_session()
    reply = await call_other("GET", f"/sessions/{session_id}")
    assert (reply.status, reply.json()["error"]) == (404, "not_found")


async def test_delete_needs_sudo(fake: FakeUnsandbox, call: Call, confirm: Call) -> None:
    session_id = fake.add_session()
    path = f"/sessions/{session_id}"

    wrong = await call("DELETE", path, headers={"X-Sudo-OTP": "000000"})
    assert wrong.status == 403
    assert session_id in fake.sessions

    deleted = await confirm("DELETE", path)
    assert deleted.json()["status"] == "terminated"
    assert session_id not in fake.sessions
    assert (await call("DELETE", path)).status == 404


async def test_delete_of_an_audited_session_returns_its_history(
    fake: FakeUnsandbox, call: Call, confirm: Call
) -> None:
    session_id = (await call("POST", "/sessions?audit=1", {})).json()["id"]
    await call("POST", f"/sessions/{session_id}/shell", {"command": "echo one"})
    await call("POST", f"/sessions/{session_id}/execute", {"command": "echo two"})

    deleted = (await confirm("DELETE", f"/sessions/{session_id}?audit=1")).json()

    assert deleted["shell_history"] == ["echo one", "echo two"]


async def test_freeze_and_unfreeze(fake: FakeUnsandbox, call: Call) -> None:
    session_id = fake.add_session(multiplexer="screen")

    frozen = (await call("POST", f"/sessions/{session_id}/freeze", {})).json()
    assert frozen["status"] == "frozen"
    assert fake.sessions[session_id].status == "frozen"
    thawed = (await call("POST", f"/sessions/{session_id}/unfreeze", raw=b"")).json()
    assert thawed["status"] == "running"


async def test_freeze_needs_a_multiplexer(fake: FakeUnsandbox, call: Call) -> None:
    session_id = fake.add_session()
    reply = await call("POST", f"/sessions/{session_id}/freeze", {})
    assert (reply.status, reply.json()["error"]) == (400, "freeze_not_allowed")
    assert fake.sessions[session_id].status == "running"


async def test_unfreeze_past_the_vcpu_limit_is_a_concurrency_429(
    fake: FakeUnsandbox, call: Call
) -> None:
    frozen = fake.add_session(multiplexer="tmux", vcpu=2, status="frozen")
    fake.add_session(vcpu=2)
    fake.vcpu_limit = 3

    reply = await call("POST", f"/sessions/{frozen}/unfreeze", {})

    assert reply.status == 429
    assert reply.json() == {
        "error": "concurrency_limit_reached",
        "message": "Would exceed tier concurrency",
        "active_executions": 2,
        "concurrency_limit": 3,
    }
    assert fake.sessions[frozen].status == "frozen"


async def test_boost_and_unboost(fake: FakeUnsandbox, call: Call) -> None:
    session_id = fake.add_session()

    boosted = (await call("POST", f"/sessions/{session_id}/boost", {"vcpu": 4})).json()
    assert (boosted["vcpu"], boosted["memory_mb"], boosted["boosted"]) == (4, 8192, True)
    default = (await call("POST", f"/sessions/{session_id}/boost", {})).json()
    assert default["vcpu"] == 2  # the reference Python client sends {}: the C default
    back = (await call("POST", f"/sessions/{session_id}/unboost", {})).json()
    assert (back["vcpu"], back["boosted"]) == (1, False)


async def test_boost_errors(fake: FakeUnsandbox, call: Call) -> None:
    running = fake.add_session()
    frozen = fake.add_session(multiplexer="tmux", status="frozen")

    assert (await call("POST", f"/sessions/{running}/boost", {"vcpu": 9})).status == 400
    not_running = await call("POST", f"/sessions/{frozen}/boost", {"vcpu": 2})
    assert (not_running.status, not_running.json()["error"]) == (409, "session_not_running")
    fake.vcpu_limit = 3
    limited = await call("POST", f"/sessions/{running}/boost", {"vcpu": 4})
    assert (limited.status, limited.json()["error"]) == (429, "concurrency_limit_reached")
    assert fake.sessions[running].current_vcpu == 1


async def test_unboost_of_an_unknown_session(call: Call) -> None:
    reply = await call("POST", "/sessions/unsb-session-none/unboost", {})
    assert reply.status == 404


async def test_shell_runs_a_command(fake: FakeUnsandbox, call: Call) -> None:
    session_id = fake.add_session()
    fake.script("bash", "uptime", stdout="up 3 days\n")

    emulated = (await call("POST", f"/sessions/{session_id}/shell", {"command": "echo hi"})).json()
    scripted = (await call("POST", f"/sessions/{session_id}/execute", {"command": "uptime"})).json()

    assert (emulated["stdout"], emulated["exit_code"]) == ("hi\n", 0)
    assert scripted["stdout"] == "up 3 days\n"


async def test_shell_errors(fake: FakeUnsandbox, call: Call) -> None:
    session_id = fake.add_session(multiplexer="tmux", status="frozen")
    assert (await call("POST", f"/sessions/{session_id}/shell", {})).status == 400
    frozen = await call("POST", f"/sessions/{session_id}/shell", {"command": "ls"})
    assert (frozen.status, frozen.json()["error"]) == (409, "session_not_running")


async def test_snapshot_of_a_session(fake: FakeUnsandbox, call: Call) -> None:
    session_id = fake.add_session()
    body = (await call("POST", f"/sessions/{session_id}/snapshot", {"name": "s1"})).json()
    assert fake.snapshots[body["id"]].source_id == session_id


async def test_snapshot_of_another_accounts_session(fake: FakeUnsandbox, call_other: Call) -> None:
    session_id = fake.add_session()
    reply = await call_other("POST", f"/sessions/{session_id}/snapshot", {})
    assert reply.status == 404
    assert fake.snapshots == {}
