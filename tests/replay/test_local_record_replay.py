"""Record/replay is backend-neutral: real local-backend runs recorded, replayed offline.

Recording goes through the ``replay`` backend with ``record_backend="local"``, so the
programs really run (sandboxed) on this machine; replay then starts no process at all.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from support.replay import read_json
from un_async import AsyncClient, ExecutionResult, JobTimeoutError
from un_async.backends.replay import Cassette, Interaction, ReplayExecutor, save_cassette
from un_async.backends.replay.matching import submit_request
from un_async.core.models import ExecutionRequest

OUTPUT_LIMIT = 1024
RESULT_ATTRIBUTES = (
    "job_id",
    "status",
    "raw_status",
    "stdout",
    "stderr",
    "exit_code",
    "language",
    "duration_ms",
    "error",
    "reason",
    "truncated",
    "isolation",
    "artifacts",
    "success",
    "is_final",
)


def client_for(cassette: Path, mode: str) -> AsyncClient:
    """A client on ``cassette``: mode ``all`` records real local runs, ``none`` replays."""
    options: dict[str, Any] = {"cassette": str(cassette), "record_mode": mode}
    if mode != "none":
        options.update(
            record_backend="local",
            record_backend_options={"output_limit_bytes": OUTPUT_LIMIT},
        )
    return AsyncClient(
        backend="replay", backend_options=options, languages_cache_path=False, timeout=60
    )


def assert_same_result(recorded: ExecutionResult, replayed: ExecutionResult) -> None:
    """Equal as mappings and in every typed attribute, and of the same class."""
    assert type(replayed) is type(recorded) is ExecutionResult
    assert dict(replayed) == dict(recorded)
    for name in RESULT_ATTRIBUTES:
        assert getattr(replayed, name) == getattr(recorded, name), name


def assert_same(recorded: list[Any], replayed: list[Any]) -> None:
    assert len(replayed) == len(recorded)
    for one, other in zip(recorded, replayed, strict=True):
        if isinstance(one, ExecutionResult):
            assert_same_result(one, other)
        else:
            assert other == one


async def workload(client: AsyncClient) -> list[Any]:
    """Completed, failed, truncated and artifact-returning runs, a job awaited natively,
    a cancelled job and the language list."""
    outcomes: list[Any] = [
        await client.execute_code("python", 'print("hello from a real run")'),
        await client.execute_code("python", "import sys\nprint('bye')\nsys.exit(3)"),
        await client.execute_code("python", f"print('x' * {OUTPUT_LIMIT * 4})"),
        await client.execute_code(
            "python",
            "data = open('in.txt').read()\nopen('out.txt', 'w').write(data.upper())",
            input_files={"in.txt": b"made here"},
            return_artifact=True,
        ),
    ]
    job_id = await client.execute_async("bash", "echo later")
    outcomes += [job_id, await client.wait_for_job(job_id)]
    doomed = await client.execute_async("bash", "sleep 30")
    outcomes += [dict(await client.cancel_job(doomed)), await client.get_languages()]
    return outcomes


async def test_a_local_run_is_recorded_and_replays_offline_with_equal_results(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cassette = tmp_path / "local.json"
    async with client_for(cassette, "all") as client:
        recorded = await workload(client)
    hello, failed, flooded, artifact = recorded[:4]
    assert hello.stdout == "hello from a real run\n"
    assert (failed.exit_code, failed.reason, failed.stdout) == (3, "exit", "bye\n")
    assert flooded.truncated is True
    assert flooded.isolation is not None
    assert flooded.isolation["level"] in ("bubblewrap", "namespaces", "none")
    assert [(a.filename, a.content) for a in artifact.artifacts] == [("out.txt", b"MADE HERE")]
    assert recorded[5].stdout == "later\n"
    assert recorded[6]["status"] == "cancelled"
    document = read_json(cassette)
    assert document["version"] == 2
    assert document["backend"] == {"name": "local", "native_wait": True}

    attempts: list[str] = []

    def refuse(self: subprocess.Popen[Any], args: Any, *more: Any, **options: Any) -> None:
        attempts.append(str(args))
        raise AssertionError("replay started a process")

    monkeypatch.setattr(subprocess.Popen, "__init__", refuse)
    async with client_for(cassette, "none") as client:
        assert isinstance(client.executor, ReplayExecutor)
        assert client.executor.native_wait is True  # waits as the local backend did
        replayed = await workload(client)

    assert attempts == []
    assert_same(recorded, replayed)


async def test_a_replayed_result_is_a_fresh_object_each_time(tmp_path: Path) -> None:
    cassette = tmp_path / "fresh.json"
    async with client_for(cassette, "all") as client:
        await client.execute_code("python", "print(1)")
    replay = ReplayExecutor(cassette, repeat=True)
    async with AsyncClient(backend=replay, languages_cache_path=False) as client:
        first = await client.execute_code("python", "print(1)")
        first["stdout"] = "changed"
        assert first.isolation is not None
        first.isolation["warnings"].append("changed")  # type: ignore[attr-defined]
        second = await client.execute_code("python", "print(1)")
    assert second.stdout == "1\n"
    assert second.isolation is not None
    assert "changed" not in second.isolation["warnings"]


async def test_a_native_wait_that_timed_out_replays_as_a_timeout(tmp_path: Path) -> None:
    cassette = tmp_path / "timeout.json"
    async with client_for(cassette, "all") as client:
        with pytest.raises(JobTimeoutError):
            await client.execute_code("bash", "sleep 30", timeout=0.5)
        job_id = await client.execute_async("bash", "sleep 30")
        with pytest.raises(JobTimeoutError):
            await client.wait_for_job(job_id, timeout=0.3)
        await client.cancel_job(job_id)
    operations = [i["request"]["operation"] for i in read_json(cassette)["interactions"]]
    assert operations == ["submit", "cancel_job", "submit", "wait_job", "cancel_job"]

    async with client_for(cassette, "none") as client:
        with pytest.raises(JobTimeoutError):
            await client.execute_code("bash", "sleep 30", timeout=0.2)
        replayed_id = await client.execute_async("bash", "sleep 30")
        with pytest.raises(JobTimeoutError):
            await client.wait_for_job(replayed_id, timeout=0.2)
        assert (await client.cancel_job(replayed_id))["job_id"] == job_id


REPLAY_PROGRAM = """\
import asyncio, sys
from un_async import AsyncClient

async def main() -> None:
    options = {"cassette": sys.argv[1]}
    async with AsyncClient(backend="replay", backend_options=options) as client:
        result = await client.execute_code("python", "print(1)")
    print(result.stdout.strip(), result.isolation["level"], "aiohttp" in sys.modules)

asyncio.run(main())
"""


def test_replaying_a_local_cassette_never_loads_the_http_stack(tmp_path: Path) -> None:
    request = ExecutionRequest(language="python", code="print(1)")
    final = {"job_id": "local-1", "status": "completed", "stdout": "1\n", "exit_code": 0}
    final["isolation"] = {"level": "bubblewrap", "network": "none", "warnings": []}
    cassette = Cassette(
        level="execution",
        backend={"name": "local", "native_wait": True},
        interactions=[
            Interaction(
                request=submit_request(request, wait=True),
                response={"value": final},
                timing={"elapsed": 0.01},
            )
        ],
    )
    path = tmp_path / "local.json"
    save_cassette(cassette, path)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("UNSANDBOX_", "UN_ASYNC_"))}
    done = subprocess.run(
        [sys.executable, "-c", REPLAY_PROGRAM, str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=tmp_path,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "1 bubblewrap False\n"
