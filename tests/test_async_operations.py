"""The seed's public API, end to end: module functions against the fake server."""

from __future__ import annotations

import asyncio
import inspect
import json
import socket
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

import un_async
from un_async import (
    ClientConfig,
    CredentialsError,
    JobStatus,
    NotFoundError,
    UnsandboxError,
    ValidationError,
    cancel_job,
    delete_snapshot,
    detect_language,
    execute_async,
    execute_code,
    get_job,
    get_languages,
    list_jobs,
    list_snapshots,
    restore_snapshot,
    session_snapshot,
    wait_for_job,
)
from un_async.testing import TEST_PUBLIC_KEY, FakeUnsandbox, Fault

SEED_NAMES = [
    "execute_code",
    "execute_async",
    "get_job",
    "wait_for_job",
    "cancel_job",
    "list_jobs",
    "get_languages",
    "detect_language",
    "session_snapshot",
    "list_snapshots",
    "restore_snapshot",
    "delete_snapshot",
    "CredentialsError",
]
IO_FUNCTIONS = [name for name in SEED_NAMES if name not in ("detect_language", "CredentialsError")]


# -- the surface --------------------------------------------------------------------------


def test_seed_names_are_exported() -> None:
    for name in SEED_NAMES:
        assert name in un_async.__all__
        assert getattr(un_async, name) is not None


@pytest.mark.parametrize("name", IO_FUNCTIONS)
def test_io_functions_take_keys_in_the_documented_position(name: str) -> None:
    function = getattr(un_async, name)
    assert inspect.iscoroutinefunction(function)
    parameters = inspect.signature(function).parameters
    assert parameters["public_key"].default is None
    assert parameters["secret_key"].default is None
    positional = [p.name for p in parameters.values() if p.kind is p.POSITIONAL_OR_KEYWORD]
    # Seed signatures: (language, code, public_key, secret_key), (job_id, public_key, ...)...
    assert positional[-2:] == ["public_key", "secret_key"] or positional[-4:-2] == [
        "public_key",
        "secret_key",
    ]


def test_session_snapshot_signature() -> None:
    parameters = inspect.signature(session_snapshot).parameters
    assert list(parameters)[:5] == ["session_id", "public_key", "secret_key", "name", "hot"]
    assert parameters["name"].default is None
    assert parameters["hot"].default is False


# -- execution ----------------------------------------------------------------------------


async def test_execute_code(fake_env: FakeUnsandbox) -> None:
    result = await execute_code("python", "print(42)")
    assert result["stdout"] == "42\n"
    assert result["exit_code"] == 0
    assert result["status"] == "completed"
    assert result["language"] == "python"
    assert result.get("stderr") == ""
    assert result.stdout == "42\n"
    assert isinstance(result["job_id"], str)


async def test_failed_program_is_a_result(fake_env: FakeUnsandbox) -> None:
    result = await execute_code("python", "import sys\nprint('partial')\nsys.exit(1)")
    assert result["exit_code"] == 1
    assert result["stdout"] == "partial\n"
    assert result["status"] == "completed"


async def test_server_reported_failure_is_a_result(fake_env: FakeUnsandbox) -> None:
    fake_env.script("python", "bad()", status="failed", exit_code=1, stderr="Error message\n")
    result = await execute_code("python", "bad()")
    assert result["status"] == "failed"
    assert result["stderr"] == "Error message\n"
    assert result["exit_code"] == 1


async def test_execute_code_with_options(fake_env: FakeUnsandbox) -> None:
    fake_env.script("python", "report()", stdout="ok\n", artifacts={"report.txt": b"42"})
    result = await execute_code(
        "python",
        "report()",
        env={"MODE": "test"},
        input_files={"in.csv": b"a,b\n1,2\n"},
        network_mode="zerotrust",
        ttl=30,
        vcpu=2,
        return_artifact=True,
        timeout=30,
    )
    assert result["stdout"] == "ok\n"
    assert [(a.filename, a.content) for a in result.artifacts] == [("report.txt", b"42")]
    sent = fake_env.requests[0].json()
    assert sent["env"] == {"MODE": "test"}
    assert sent["input_files"] == [{"filename": "in.csv", "content": "YSxiCjEsMgo="}]
    assert (sent["ttl"], sent["vcpu"], sent["network_mode"]) == (30, 2, "zerotrust")


async def test_invalid_options_send_nothing(fake_env: FakeUnsandbox) -> None:
    with pytest.raises(ValidationError):
        await execute_code("python", "print(1)", ttl=901)
    with pytest.raises(ValidationError):
        await execute_async("python", "print(1)", vcpu=9)
    assert fake_env.request_count == 0


async def test_concurrent_executions(fake_env: FakeUnsandbox) -> None:
    results = await asyncio.gather(
        execute_code("python", "print('Python')"),
        execute_code("javascript", "console.log('JavaScript')"),
        execute_code("go", 'fmt.Println("Go")'),
    )
    assert [(r["language"], r["stdout"]) for r in results] == [
        ("python", "Python\n"),
        ("javascript", "JavaScript\n"),
        ("go", "Go\n"),
    ]


# -- jobs ---------------------------------------------------------------------------------


async def test_execute_async_then_wait(fake_env: FakeUnsandbox) -> None:
    fake_env.default_duration = 0.1  # still running at submission, done by the first poll
    job_id = await execute_async("javascript", 'console.log("Job started")')
    assert isinstance(job_id, str)
    assert job_id in fake_env.jobs
    result = await wait_for_job(job_id)
    assert result["status"] == "completed"
    assert result["stdout"] == "Job started\n"
    assert result["job_id"] == job_id


async def test_get_job_is_a_single_poll(fake_env: FakeUnsandbox) -> None:
    fake_env.default_duration = 30
    job_id = await execute_async("python", "print(1)")
    status = await get_job(job_id)
    assert status["status"] in ("pending", "running")
    assert status["job_id"] == job_id
    assert fake_env.count_requests("GET", f"/jobs/{job_id}") == 1


async def test_wait_for_job_timeout(fake_env: FakeUnsandbox) -> None:
    fake_env.default_duration = 30
    job_id = await execute_async("python", "print(1)")
    with pytest.raises(un_async.JobTimeoutError) as caught:
        await wait_for_job(job_id, timeout=0.5)
    assert caught.value.last_state["status"] == "running"


async def test_execute_code_timeout_cancels_the_job(fake_env: FakeUnsandbox) -> None:
    fake_env.mode = "job"
    fake_env.default_duration = 30
    with pytest.raises(un_async.JobTimeoutError) as caught:
        await execute_code("python", "print(1)", timeout=0.5)
    assert caught.value.last_state is not None
    assert fake_env.job_status(str(caught.value.job_id)) == "cancelled"


async def test_cancel_job(fake_env: FakeUnsandbox) -> None:
    fake_env.default_duration = 30
    job_id = await execute_async("python", "print(1)")
    result = await cancel_job(job_id)
    assert result["status"] == "cancelled"
    assert fake_env.job_status(job_id) == "cancelled"
    final = await wait_for_job(job_id)
    assert final.status is JobStatus.CANCELLED


async def test_cancel_job_with_204_reply(fake_env: FakeUnsandbox) -> None:
    fake_env.cancel_status = 204
    fake_env.default_duration = 30
    job_id = await execute_async("python", "print(1)")
    result = await cancel_job(job_id)
    assert result["status"] == "cancelled"
    assert result["job_id"] == job_id


async def test_list_jobs(fake_env: FakeUnsandbox) -> None:
    started = [await execute_async("python", f"print({n})") for n in range(3)]
    jobs = await list_jobs()
    assert sorted(job["id"] for job in jobs) == sorted(started)
    for job in jobs:
        assert job["status"] in ("pending", "running", "completed")
        assert job["language"] == "python"


async def test_unknown_job(fake_env: FakeUnsandbox) -> None:
    with pytest.raises(NotFoundError):
        await get_job("no-such-job")


# -- languages ----------------------------------------------------------------------------


def languages_file(fake: FakeUnsandbox) -> Path:
    """Where the default client caches this server's languages (a file per server URL)."""
    path = ClientConfig(base_url=fake.url).languages_cache_file
    assert path is not None
    return path


async def test_get_languages_is_a_cached_list_of_strings(
    fake_env: FakeUnsandbox, isolated_environment: Path
) -> None:
    languages = await get_languages()
    assert languages == fake_env.languages
    assert all(isinstance(name, str) for name in languages)
    assert await get_languages() == languages
    assert fake_env.count_requests("GET", "/languages") == 1
    cache_file = languages_file(fake_env)
    assert cache_file.parent == isolated_environment / ".unsandbox"
    assert json.loads(cache_file.read_text())["languages"] == languages


@pytest.mark.parametrize(
    "content",
    [b"{not json", b"", b"\xff\xfe\x00", b'["python"]', b'{"languages": "python"}'],
)
async def test_get_languages_survives_a_corrupt_cache(
    fake_env: FakeUnsandbox, isolated_environment: Path, content: bytes
) -> None:
    cache = languages_file(fake_env)
    cache.parent.mkdir()
    cache.write_bytes(content)
    assert await get_languages() == fake_env.languages
    assert json.loads(cache.read_text())["languages"] == fake_env.languages


async def test_get_languages_when_the_cache_path_is_a_directory(
    fake_env: FakeUnsandbox, isolated_environment: Path
) -> None:
    languages_file(fake_env).mkdir(parents=True)
    assert await get_languages() == fake_env.languages


def test_detect_language() -> None:
    assert detect_language("app.js") == "javascript"
    assert detect_language("main.go") == "go"
    assert detect_language("script.py") == "python"
    assert detect_language("unknown") is None


# -- snapshots ----------------------------------------------------------------------------


async def test_snapshot_lifecycle(fake_env: FakeUnsandbox) -> None:
    session_id = fake_env.add_session()
    snapshot_id = await session_snapshot(session_id, name="before-upgrade", hot=True)
    assert isinstance(snapshot_id, str)
    stored = fake_env.snapshots[snapshot_id]
    assert (stored.name, stored.hot, stored.source_id) == ("before-upgrade", True, session_id)

    snapshots = await list_snapshots()
    assert [snap["id"] for snap in snapshots] == [snapshot_id]
    assert snapshots[0]["name"] == "before-upgrade"

    restored = await restore_snapshot(snapshot_id)
    assert restored["id"] == snapshot_id

    deleted = await delete_snapshot(snapshot_id)
    assert deleted["status"] == "deleted"
    assert fake_env.snapshots == {}


async def test_session_snapshot_defaults_to_cold(fake_env: FakeUnsandbox) -> None:
    snapshot_id = await session_snapshot(fake_env.add_session())
    assert fake_env.snapshots[snapshot_id].hot is False
    assert fake_env.requests[-1].json() == {"hot": False}


# -- credentials on every I/O function ----------------------------------------------------

OTHER_PUBLIC = "unsb-pk-other-1111-2222-3333"
OTHER_SECRET = "unsb-sk-other-aaaa-bbbb-cccc"


def seed_calls(fake: FakeUnsandbox) -> dict[str, Callable[..., Awaitable[Any]]]:
    """One call per I/O function; each takes ``public_key``/``secret_key`` keywords."""
    session_id = fake.add_session(OTHER_PUBLIC)
    state: dict[str, str] = {}

    async def snapshot_id(**keys: Any) -> str:
        if "snapshot" not in state:
            state["snapshot"] = await session_snapshot(session_id, **keys)
        return state["snapshot"]

    async def job_id(**keys: Any) -> str:
        if "job" not in state:
            state["job"] = await execute_async("python", "print(1)", **keys)
        return state["job"]

    return {
        "execute_code": lambda **k: execute_code("python", "print(1)", **k),
        "execute_async": lambda **k: execute_async("python", "print(1)", **k),
        "get_job": lambda **k: _then(job_id(**k), lambda j: get_job(j, **k)),
        "wait_for_job": lambda **k: _then(job_id(**k), lambda j: wait_for_job(j, **k)),
        "cancel_job": lambda **k: _then(job_id(**k), lambda j: cancel_job(j, **k)),
        "list_jobs": lambda **k: list_jobs(**k),
        "get_languages": lambda **k: get_languages(**k),
        "session_snapshot": lambda **k: session_snapshot(session_id, **k),
        "list_snapshots": lambda **k: list_snapshots(**k),
        "restore_snapshot": lambda **k: _then(snapshot_id(**k), lambda s: restore_snapshot(s, **k)),
        "delete_snapshot": lambda **k: _then(snapshot_id(**k), lambda s: delete_snapshot(s, **k)),
    }


async def _then(first: Awaitable[str], then: Callable[[str], Awaitable[Any]]) -> Any:
    return await then(await first)


@pytest.mark.parametrize("name", IO_FUNCTIONS)
async def test_explicit_keys_on_every_io_function(
    fake: FakeUnsandbox, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    # No credentials in the environment: only the explicit arguments can authenticate.
    monkeypatch.setenv("UNSANDBOX_API_URL", fake.url)
    fake.add_account(OTHER_PUBLIC, OTHER_SECRET)
    await seed_calls(fake)[name](public_key=OTHER_PUBLIC, secret_key=OTHER_SECRET)
    signed = [r for r in fake.requests if "Authorization" in r.headers]
    assert signed, f"{name} sent no authenticated request"
    assert {r.headers["Authorization"] for r in signed} == {f"Bearer {OTHER_PUBLIC}"}


@pytest.mark.parametrize("name", IO_FUNCTIONS)
async def test_explicit_keys_beat_the_environment(fake_env: FakeUnsandbox, name: str) -> None:
    fake_env.add_account(OTHER_PUBLIC, OTHER_SECRET)
    await seed_calls(fake_env)[name](public_key=OTHER_PUBLIC, secret_key=OTHER_SECRET)
    authorizations = {r.headers.get("Authorization") for r in fake_env.requests} - {None}
    assert authorizations == {f"Bearer {OTHER_PUBLIC}"}


async def test_keys_positionally_as_in_the_seed_signatures(
    fake: FakeUnsandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("UNSANDBOX_API_URL", fake.url)
    fake.add_account(OTHER_PUBLIC, OTHER_SECRET)
    result = await execute_code("python", "print(7)", OTHER_PUBLIC, OTHER_SECRET)
    job_id = await execute_async("python", "print(8)", OTHER_PUBLIC, OTHER_SECRET)
    assert (await get_job(job_id, OTHER_PUBLIC, OTHER_SECRET))["job_id"] == job_id
    assert len(await list_jobs(OTHER_PUBLIC, OTHER_SECRET)) == 2
    assert result["stdout"] == "7\n"


async def test_missing_credentials(fake: FakeUnsandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UNSANDBOX_API_URL", fake.url)
    with pytest.raises(CredentialsError):
        await execute_code("python", "print(1)")
    with pytest.raises(CredentialsError, match="secret_key"):
        await list_jobs(public_key=TEST_PUBLIC_KEY)
    assert fake.request_count == 0


async def test_credentials_from_the_accounts_file(
    fake: FakeUnsandbox, monkeypatch: pytest.MonkeyPatch, isolated_environment: Path
) -> None:
    monkeypatch.setenv("UNSANDBOX_API_URL", fake.url)
    fake.add_account(OTHER_PUBLIC, OTHER_SECRET)
    accounts = isolated_environment / ".unsandbox" / "accounts.csv"
    accounts.parent.mkdir()
    accounts.write_text(f"{TEST_PUBLIC_KEY},wrong-secret\n{OTHER_PUBLIC},{OTHER_SECRET}\n")
    accounts.chmod(0o600)
    monkeypatch.setenv("UNSANDBOX_ACCOUNT", "1")
    assert (await execute_code("python", "print('file')"))["stdout"] == "file\n"
    assert fake.requests[0].headers["Authorization"] == f"Bearer {OTHER_PUBLIC}"


# -- network failures ---------------------------------------------------------------------


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


async def test_unreachable_server_is_a_client_error(
    fake_env: FakeUnsandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("UNSANDBOX_API_URL", closed_port_url())
    with pytest.raises(aiohttp.ClientError) as caught:
        await execute_code("python", "print(1)")
    assert isinstance(caught.value, UnsandboxError)


@pytest.mark.parametrize("catch", [aiohttp.ClientError, UnsandboxError])
async def test_dropped_connection_is_catchable_both_ways(
    fake_env: FakeUnsandbox, catch: type[Exception]
) -> None:
    fake_env.inject(Fault.reset_after_read(path="/execute"))
    with pytest.raises(catch):
        await execute_code("python", "print(1)")


@pytest.mark.parametrize("catch", [aiohttp.ClientError, UnsandboxError])
async def test_http_errors_are_catchable_both_ways(
    fake_env: FakeUnsandbox, catch: type[Exception]
) -> None:
    with pytest.raises(catch):
        await get_job("no-such-job")
