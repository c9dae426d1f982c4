"""Jobs on the local backend behave as on the service: execute_async returns at once with
a valid id, jobs queue beyond the concurrency limit, cancel answers at once and kills the
whole tree, unknown ids are NotFoundError, aclose() ends what still runs."""

from __future__ import annotations

import asyncio
import os
import secrets
import time
from pathlib import Path

import pytest

from support import until
from support.local_backend import live_processes, local_environ, options
from un_async import AsyncClient, JobTimeoutError, NotFoundError
from un_async.core.id_checks import path_segment

pytestmark = pytest.mark.asyncio(loop_scope="module")


def sleeper(token: str) -> str:
    """A program that forks a background sleeper and one in a new session, then waits."""
    return f"sleep {token} &\nsetsid sleep {token} &\necho started\nwait\n"


async def test_execute_async_returns_at_once_with_a_valid_id(best: AsyncClient) -> None:
    await best.get_languages()  # the one-time probe is behind us
    started = time.perf_counter()
    job_id = await best.execute_async("bash", "sleep 0.3; echo late")
    assert time.perf_counter() - started < 0.5
    assert path_segment("job_id", job_id) == job_id
    state = await best.get_job(job_id)
    assert state.status in ("pending", "running")
    assert state.job_id == job_id
    result = await best.wait_for_job(job_id)
    assert (result.status, result.stdout) == ("completed", "late\n")
    assert (await best.get_job(job_id)).stdout == "late\n"
    listed = {job.job_id: job for job in await best.list_jobs()}
    assert listed[job_id].status == "completed"
    assert listed[job_id]["language"] == "bash"


async def test_cancel_answers_at_once_and_kills_the_tree(local: AsyncClient) -> None:
    token = f"2000.{secrets.randbelow(10**9)}"
    job_id = await local.execute_async("bash", sleeper(token), ttl=30)
    await until(lambda: len(live_processes(token)) == 2, timeout=10)
    started = time.perf_counter()
    reply = await local.cancel_job(job_id)
    assert time.perf_counter() - started < 0.5
    assert (reply["job_id"], reply["status"]) == (job_id, "cancelled")
    result = await local.wait_for_job(job_id)
    assert result.status == "cancelled"
    assert result.exit_code == 137
    assert result.stdout == "started\n"
    await until(lambda: live_processes(token) == [])


async def test_cancel_of_a_queued_job(fresh: AsyncClient) -> None:
    blockers = [await fresh.execute_async("bash", "sleep 5") for _ in range(2)]
    queued = await fresh.execute_async("bash", "echo never")
    assert (await fresh.get_job(queued)).status == "pending"
    await fresh.cancel_job(queued)
    result = await fresh.wait_for_job(queued)
    assert (result.status, result.stdout, result.exit_code) == ("cancelled", "", None)
    assert result.error == "cancelled before it started"
    for job_id in blockers:
        await fresh.cancel_job(job_id)


async def test_client_deadline_cancels_the_job(best: AsyncClient) -> None:
    token = f"3000.{secrets.randbelow(10**9)}"
    with pytest.raises(JobTimeoutError):
        await best.execute_code("bash", sleeper(token), timeout=1.0)
    await until(lambda: live_processes(token) == [])


async def test_unknown_job_is_not_found(best: AsyncClient) -> None:
    for call in (best.get_job, best.cancel_job, best.wait_for_job):
        with pytest.raises(NotFoundError):
            await call("local-0000000000000000")


async def test_fifty_jobs_at_concurrency_two(local: AsyncClient) -> None:
    ids = [await local.execute_async("bash", f"echo job {n}") for n in range(50)]
    states = [await local.get_job(job_id) for job_id in ids]
    assert sum(state.status == "running" for state in states) <= 2
    results = await asyncio.gather(*(local.wait_for_job(job_id) for job_id in ids))
    assert [result.stdout for result in results] == [f"job {n}\n" for n in range(50)]
    assert all(result.status == "completed" for result in results)


async def test_execute_many(best: AsyncClient) -> None:
    outputs = set()
    async for outcome in best.execute_many(
        [("python", f"print({n} * {n})") for n in range(6)], concurrency=3
    ):
        outputs.add(outcome.result.stdout.strip())
    assert outputs == {str(n * n) for n in range(6)}


async def test_aclose_kills_what_runs_and_removes_workspaces(
    best_level: str, private_tmp: Path, secret_home: Path
) -> None:
    token = f"4000.{secrets.randbelow(10**9)}"
    client = AsyncClient(
        backend="local", backend_options=options(best_level), environ=local_environ(secret_home)
    )
    job_id = await client.execute_async("bash", sleeper(token), ttl=60)
    queued = await client.execute_async("bash", "echo queued", ttl=60)
    await until(lambda: len(live_processes(token)) == 2, timeout=10)
    await client.aclose()
    assert live_processes(token) == [] or await _gone(token)
    assert os.listdir(private_tmp) == []
    assert job_id != queued


async def _gone(token: str) -> bool:
    await until(lambda: live_processes(token) == [])
    return True
