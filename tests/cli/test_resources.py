"""Resource commands against the fake server: ``languages``, ``jobs``, ``snapshots``."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from support.cli_process import ThreadedFake, fake_env, run_cli, run_in_process
from un_async import AsyncClient
from un_async.testing import TEST_PUBLIC_KEY, TEST_SECRET_KEY, FakeUnsandbox

OTP = "424242"


@pytest.fixture(scope="module")
def sudo_fake() -> Iterator[FakeUnsandbox]:
    """A fake that answers every execution with a job and asks for an OTP on deletes."""
    with ThreadedFake(mode="job", sudo_otp=OTP) as fake:
        yield fake


def start_jobs(fake: FakeUnsandbox, *codes: str) -> list[str]:
    """Start one job per code through the SDK; their ids."""

    async def start() -> list[str]:
        async with AsyncClient(
            base_url=fake.url,
            public_key=TEST_PUBLIC_KEY,
            secret_key=TEST_SECRET_KEY,
            languages_cache_path=False,
        ) as client:
            return [await client.execute_async("python", code) for code in codes]

    return asyncio.run(start())


def test_languages(cli_fake: FakeUnsandbox, tmp_path: Path) -> None:
    text = run_cli("languages", env=fake_env(cli_fake), cwd=tmp_path)
    as_json = run_in_process("languages", "--json", "--refresh", env=fake_env(cli_fake))
    assert text.returncode == 0
    assert text.stdout.decode().splitlines() == list(cli_fake.languages)
    assert json.loads(as_json.stdout) == list(cli_fake.languages)


def test_jobs_list_get_wait_cancel(sudo_fake: FakeUnsandbox, tmp_path: Path) -> None:
    quick, slow = "print('quick job')  # jobs test", "import time; time.sleep(600)  # jobs test"
    sudo_fake.script("python", quick, stdout="quick job\n", exit_code=9, duration=0.2)
    sudo_fake.script("python", slow, duration=600)
    quick_id, slow_id = start_jobs(sudo_fake, quick, slow)
    env = fake_env(sudo_fake)
    waited = run_cli("jobs", "wait", quick_id, env=env, cwd=tmp_path)
    listed, table, got, unconfirmed = (
        run_in_process(*args, env=env)
        for args in (
            ["jobs", "list", "--json"],
            ["jobs", "list"],
            ["jobs", "get", quick_id, "--json"],
            ["jobs", "cancel", slow_id],
        )
    )
    listed_jobs = {job["job_id"]: job for job in json.loads(listed.stdout)}
    assert set(listed_jobs) >= {quick_id, slow_id}
    assert isinstance(listed_jobs[quick_id]["created_at"], int | float)  # raw under --json
    assert table.stdout.decode().splitlines()[0].split()[:2] == ["JOB", "ID"]
    row = next(line.split() for line in table.stdout.decode().splitlines() if quick_id in line)
    created = datetime.fromtimestamp(listed_jobs[quick_id]["created_at"], UTC)
    assert created.strftime("%Y-%m-%dT%H:%M:%SZ") in row
    assert json.loads(got.stdout)["job_id"] == quick_id
    assert waited.returncode == 9
    assert waited.stdout == b"quick job\n"
    assert unconfirmed.returncode == 2
    assert b"-y" in unconfirmed.stderr
    assert sudo_fake.job_status(slow_id) == "running"

    cancelled = run_in_process("jobs", "cancel", "-y", slow_id, env=env)
    assert cancelled.returncode == 0
    assert cancelled.stdout.decode() == f"{slow_id}: cancelled\n"
    assert sudo_fake.job_status(slow_id) == "cancelled"
    after = run_cli("jobs", "wait", slow_id, env=env, cwd=tmp_path)
    assert after.returncode == 130


def test_snapshots_with_an_otp_challenge(sudo_fake: FakeUnsandbox, tmp_path: Path) -> None:
    session_id = sudo_fake.add_session()
    env = fake_env(sudo_fake)
    created = run_in_process("snapshots", "create", session_id, "--name", "nightly", env=env)
    assert created.returncode == 0, created.stderr
    snapshot_id = created.stdout.decode().strip()
    listed, table, wrong = (
        run_in_process(*args, env=env)
        for args in (
            ["snapshots", "list", "--json"],
            ["snapshots", "list"],
            ["snapshots", "delete", "-y", "--otp", "000000", snapshot_id],
        )
    )
    assert snapshot_id in {item["id"] for item in json.loads(listed.stdout)}
    assert "nightly" in table.stdout.decode()
    assert wrong.returncode == 4
    assert b"403" in wrong.stderr

    deleted = run_cli(
        "snapshots", "delete", "-y", snapshot_id, env=env, cwd=tmp_path, stdin=f"{OTP}\n".encode()
    )
    assert deleted.returncode == 0, deleted.stderr
    assert deleted.stdout == f"deleted {snapshot_id}\n".encode()
    assert b"One-time password" in deleted.stderr
    assert snapshot_id not in sudo_fake.snapshots
