"""Comparing what was recorded with what is replayed, and workloads to record."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from support.clients import fast_config
from un_async import (
    AsyncClient,
    BadRequestError,
    ExecutionResult,
    JobInfo,
    JobStatus,
    NotFoundError,
    Record,
)
from un_async.backends.replay import ReplayExecutor
from un_async.testing import FakeUnsandbox

__all__ = ["RESULT_FIELDS", "everything", "job_progress", "read_json", "replayer", "same"]

RESULT_FIELDS = ("job_id", "status", "raw_status", "stdout", "stderr", "exit_code", "language")


def replayer(source: Any, **options: Any) -> AsyncClient:
    """A credential-less client replaying ``source`` (a path or a Cassette)."""
    return AsyncClient(config=fast_config(), backend=ReplayExecutor(source, **options))


def read_json(path: Path) -> Any:
    """A cassette file's document."""
    return json.loads(path.read_text(encoding="utf-8"))


def same(recorded: Any, replayed: Any) -> bool:
    """Equal mapping views and typed fields (results have identity equality)."""
    if isinstance(recorded, list):
        return len(recorded) == len(replayed) and all(map(same, recorded, replayed))
    if isinstance(recorded, ExecutionResult):
        fields = (*RESULT_FIELDS, "duration_ms", "error", "artifacts", "success")
        return dict(recorded) == dict(replayed) and all(
            getattr(recorded, name) == getattr(replayed, name) for name in fields
        )
    if isinstance(recorded, JobInfo | Record):
        return dict(recorded) == dict(replayed)
    return bool(recorded == replayed)


async def job_progress(fake: FakeUnsandbox, client: AsyncClient) -> tuple[str, list[JobStatus]]:
    """Start a job that ``fake`` holds back, then read it pending, running and completed."""
    fake.queue_delay, fake.default_duration = 100.0, 100.0
    job_id = await client.execute_async("python", "print(1)")
    seen = [(await client.get_job(job_id)).status]
    for _ in range(2):
        fake.advance(100.0)
        seen.append((await client.get_job(job_id)).status)
    return job_id, seen


async def everything(client: AsyncClient, session_id: str) -> list[Any]:
    """One of each operation, with an error and a failed program among them."""
    outcomes: list[Any] = [
        await client.execute_code("python", 'print("hello")'),
        await client.execute_code("python", "import sys\nsys.exit(3)"),
        await client.execute_code("bash", "echo files", input_files={"a.txt": b"\x00\x01"}),
    ]
    job_id = await client.execute_async("javascript", 'console.log("later")')
    outcomes += [job_id, await client.get_job(job_id), await client.wait_for_job(job_id)]
    doomed = await client.execute_async("python", "import time\ntime.sleep(30)")
    outcomes += [await client.cancel_job(doomed), await client.list_jobs()]
    for failing in (
        lambda: client.get_job("no-such-job"),
        lambda: client.execute_code("brainfuck", "+."),  # before get_languages() teaches it
    ):
        try:
            await failing()
        except (NotFoundError, BadRequestError) as exc:
            outcomes.append((type(exc), exc.status, dict(exc.body), exc.method, exc.path))
    outcomes.append(await client.get_languages())
    snapshot_id = await client.session_snapshot(session_id, name="snap", hot=True)
    outcomes += [snapshot_id, await client.list_snapshots()]
    outcomes += [
        await client.restore_snapshot(snapshot_id),
        await client.delete_snapshot(snapshot_id),
    ]
    return outcomes
