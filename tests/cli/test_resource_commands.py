"""``sessions``, ``services``, ``images`` and ``key`` commands against the fake server.

They cover many commands, so most run in this process (``run_in_process``, the same
``main`` the console script calls); one run of the installed script checks the wiring.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from support.cli_process import Run, ThreadedFake, fake_env, run_cli, run_in_process
from un_async.testing import TEST_PUBLIC_KEY, TEST_SECRET_KEY, FakeUnsandbox

OTP = "135790"


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeUnsandbox]:
    with ThreadedFake(sudo_otp=OTP) as server:
        yield server


def ok(run: Run) -> str:
    assert run.returncode == 0, run.stderr
    return run.stdout.decode()


def as_json(run: Run) -> Any:
    return json.loads(ok(run))


def test_sessions(fake: FakeUnsandbox) -> None:
    env = fake_env(fake)
    session_id = ok(run_in_process("sessions", "create", "--multiplexer", "tmux", env=env)).strip()
    assert session_id in fake.sessions
    assert session_id in {
        item["id"] for item in as_json(run_in_process("sessions", "list", "--json", env=env))
    }
    table = ok(run_in_process("sessions", "list", env=env))
    assert session_id in table
    row = next(line for line in table.splitlines() if session_id in line)
    assert re.search(r"\b\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\b", row), row
    assert (
        as_json(run_in_process("sessions", "get", session_id, "--json", env=env))["id"]
        == session_id
    )
    ok(run_in_process("sessions", "freeze", session_id, env=env))
    assert fake.sessions[session_id].status == "frozen"
    ok(run_in_process("sessions", "unfreeze", session_id, env=env))
    ok(run_in_process("sessions", "boost", session_id, "--vcpu", "3", env=env))
    assert fake.sessions[session_id].boost_vcpu == 3
    shell = run_in_process("sessions", "shell", session_id, "echo hi", env=env)
    assert shell.returncode == 0
    snapshot_id = ok(run_in_process("sessions", "snapshot", session_id, "--hot", env=env)).strip()
    assert snapshot_id in fake.snapshots
    unconfirmed = run_in_process("sessions", "delete", session_id, env=env)
    assert unconfirmed.returncode == 2
    assert session_id in fake.sessions
    deleted = run_in_process(
        "sessions", "delete", "-y", session_id, env=env, stdin=f"{OTP}\n".encode()
    )
    assert ok(deleted) == f"deleted {session_id}\n"
    assert session_id not in fake.sessions


def test_services_env_and_logs(fake: FakeUnsandbox) -> None:
    env = fake_env(fake)
    service_id = ok(
        run_in_process(
            "services",
            "create",
            "web",
            "-p",
            "8080",
            "--bootstrap",
            "python3 -m http.server 8080",
            env=env,
        )
    ).strip()
    assert fake.services[service_id].name == "web"
    listed = ok(run_in_process("services", "list", env=env))
    assert "web" in listed
    assert (
        as_json(run_in_process("services", "get", service_id, "--json", env=env))["id"]
        == service_id
    )
    ok(run_in_process("services", "update", service_id, "--vcpu", "2", env=env))
    assert fake.services[service_id].vcpu == 2
    run_in_process("services", "logs", service_id, "--all", env=env).check_returncode()

    ok(run_in_process("services", "env", "set", service_id, "-", env=env, stdin=b"A=1\nB=two\n"))
    assert (
        as_json(run_in_process("services", "env", "status", service_id, "--json", env=env))["count"]
        == 2
    )
    exported = ok(run_in_process("services", "env", "export", service_id, env=env))
    assert "B=two" in exported
    ok(run_in_process("services", "env", "delete", "-y", service_id, "--key", "A", env=env))
    assert "A=1" not in ok(run_in_process("services", "env", "export", service_id, env=env))

    ok(run_in_process("services", "lock", service_id, env=env))
    locked = run_in_process("services", "delete", "-y", service_id, "--otp", OTP, env=env)
    assert locked.returncode == 4
    assert b"409" in locked.stderr
    ok(run_in_process("services", "unlock", service_id, "--otp", OTP, env=env))
    ok(run_in_process("services", "delete", "-y", service_id, "--otp", OTP, env=env))
    assert service_id not in fake.services


def test_images(fake: FakeUnsandbox) -> None:
    env = fake_env(fake)
    service_id = fake.add_service(name="for-images")
    image_id = ok(
        run_in_process("images", "publish", "service", service_id, "--name", "base", env=env)
    ).strip()
    assert image_id in fake.images
    assert "base" in ok(run_in_process("images", "list", env=env))
    ok(run_in_process("images", "visibility", image_id, "unlisted", env=env))
    friend = "unsb-pk-friend-0000-0000-0002"
    ok(run_in_process("images", "grant", image_id, friend, env=env))
    trusted = ok(run_in_process("images", "trusted", image_id, env=env))
    assert trusted.splitlines() == [friend[:8] + "…"]
    shown = ok(run_in_process("images", "get", image_id, "--json", env=env))
    assert friend not in shown
    assert TEST_PUBLIC_KEY not in shown
    ok(run_in_process("images", "delete", "-y", image_id, "--otp", OTP, env=env))
    assert image_id not in fake.images


def test_key_validate(fake: FakeUnsandbox, tmp_path: Path) -> None:
    valid = run_cli("key", "validate", env=fake_env(fake), cwd=tmp_path)
    assert valid.returncode == 0, valid.stderr
    text = valid.stdout.decode()
    fields = [line.split()[0] for line in text.splitlines()]
    assert fields[0] == "valid"
    assert len(fields) == len(set(fields))
    assert {"expires_at", "rate_per_minute"} <= set(fields)
    assert not {"valid_through_datetime", "rate_limit"} & set(fields)  # the same facts again
    assert TEST_PUBLIC_KEY not in text
    assert TEST_SECRET_KEY not in text
    wrong = run_in_process(
        "key", "validate", env=fake_env(fake, UNSANDBOX_SECRET_KEY="unsb-sk-a-b-c-d")
    )
    assert wrong.returncode == 3
