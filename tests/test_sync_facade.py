"""The blocking facade ``un_async.sync``: plain scripts, running loops, clean shutdown.

The fake server runs on the test's event loop, so blocking calls are made from a worker
thread (``asyncio.to_thread``) while the loop keeps serving; whole scripts run as
subprocesses with warnings turned into errors.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from support import KEYS
from support.subprocesses import run_python
from un_async import JobTimeoutError, NotFoundError, ValidationError, sync
from un_async.testing import FakeUnsandbox


@pytest.fixture(autouse=True)
def close_shared_loop() -> Iterator[None]:
    """Each test starts and ends without the module functions' private loop."""
    sync.close()
    yield
    sync.close()


async def test_module_functions_block_and_return_results(fake_env: FakeUnsandbox) -> None:
    def script() -> tuple[str, str, list[str], str | None]:
        result = sync.execute_code("python", 'print("Hello World")')
        job_id = sync.execute_async("python", "print('later')")
        waited = sync.wait_for_job(job_id)
        return (
            result["stdout"],
            waited["stdout"],
            sync.get_languages(),
            sync.detect_language("main.go"),
        )

    stdout, waited, languages, detected = await asyncio.to_thread(script)
    assert stdout == "Hello World\n"
    assert waited == "later\n"
    assert languages == fake_env.languages
    assert detected == "go"


async def test_job_management(fake_env: FakeUnsandbox) -> None:
    fake_env.mode = "job"
    fake_env.default_duration = 30

    def script() -> tuple[str, str, list[str]]:
        job_id = sync.execute_async("python", "print(1)")
        status = sync.get_job(job_id)["status"]
        cancelled = sync.cancel_job(job_id)["status"]
        return status, cancelled, [job["id"] for job in sync.list_jobs()]

    status, cancelled, listed = await asyncio.to_thread(script)
    assert status in ("pending", "running")
    assert cancelled == "cancelled"
    assert listed == list(fake_env.jobs)


async def test_snapshots(fake_env: FakeUnsandbox) -> None:
    session_id = fake_env.add_session()

    def script() -> tuple[str, list[str], str]:
        snapshot_id = sync.session_snapshot(session_id, name="nightly", hot=True)
        listed = [snap["id"] for snap in sync.list_snapshots()]
        sync.restore_snapshot(snapshot_id)
        return snapshot_id, listed, sync.delete_snapshot(snapshot_id)["status"]

    snapshot_id, listed, deleted = await asyncio.to_thread(script)
    assert listed == [snapshot_id]
    assert deleted == "deleted"
    assert fake_env.snapshots == {}


async def test_connections_are_reused_across_blocking_calls(fake_env: FakeUnsandbox) -> None:
    def script() -> None:
        for n in range(20):
            sync.execute_code("python", f"print({n})")

    await asyncio.to_thread(script)
    assert fake_env.request_count == 20
    assert fake_env.connection_count <= 2


async def test_errors_keep_their_type(fake_env: FakeUnsandbox) -> None:
    with pytest.raises(NotFoundError):
        await asyncio.to_thread(sync.get_job, "no-such-job")
    with pytest.raises(ValidationError):
        await asyncio.to_thread(sync.execute_code, "python", "print(1)", ttl=0)


async def test_works_inside_a_running_event_loop(fake_env: FakeUnsandbox) -> None:
    # Like a Jupyter cell: blocking calls from a thread whose own loop is running.
    def in_thread_with_loop() -> str:
        async def cell() -> str:
            return sync.execute_code("python", "print('from a cell')").stdout

        return asyncio.run(cell())

    assert await asyncio.to_thread(in_thread_with_loop) == "from a cell\n"


async def test_close_then_use_again(fake_env: FakeUnsandbox) -> None:
    def script() -> list[str]:
        first = sync.execute_code("python", "print(1)")["stdout"]
        sync.close()
        sync.close()
        return [first, sync.execute_code("python", "print(2)")["stdout"]]

    assert await asyncio.to_thread(script) == ["1\n", "2\n"]


async def test_sync_client(fake: FakeUnsandbox) -> None:
    def script() -> tuple[str, int]:
        with sync.SyncClient(base_url=fake.url, **KEYS) as client:
            result = client.execute_code("python", "print('own loop')", env={"A": "1"})
            languages = client.get_languages()
            assert client.detect_language("x.rs") == "rust"
        return result["stdout"], len(languages)

    assert await asyncio.to_thread(script) == ("own loop\n", len(fake.languages))


async def test_closed_sync_client_refuses_work(fake: FakeUnsandbox) -> None:
    def script() -> None:
        client = sync.SyncClient(base_url=fake.url, **KEYS)
        client.close()
        client.close()
        client.list_jobs()

    with pytest.raises(RuntimeError, match="closed"):
        await asyncio.to_thread(script)


async def test_sync_client_timeout(fake: FakeUnsandbox) -> None:
    fake.mode = "job"
    fake.default_duration = 30

    def script() -> None:
        with sync.SyncClient(base_url=fake.url, **KEYS) as client:
            client.execute_code("python", "print(1)", timeout=0.4)

    with pytest.raises(JobTimeoutError):
        await asyncio.to_thread(script)
    (job_id,) = fake.jobs
    assert fake.job_status(job_id) == "cancelled"


# -- whole scripts -------------------------------------------------------------------------

PLAIN_SCRIPT = """
from un_async import sync

result = sync.execute_code("python", 'print("plain")')
print(result["stdout"], end="")
print(len(sync.list_jobs()))
"""

LOOP_SCRIPT = """
import asyncio
from un_async import execute_code, sync

async def main():
    blocking = sync.execute_code("python", 'print("blocking")')
    awaited = await execute_code("python", 'print("awaited")')
    print(blocking["stdout"] + awaited["stdout"], end="")

asyncio.run(main())
asyncio.run(main())
"""


async def test_plain_script(fake: FakeUnsandbox, tmp_path: Path) -> None:
    code, stdout, stderr = await run_python(fake, "-c", PLAIN_SCRIPT, cwd=tmp_path)
    assert stderr == ""
    assert code == 0
    assert stdout == "plain\n1\n"


async def test_script_mixing_blocking_and_awaited_calls(
    fake: FakeUnsandbox, tmp_path: Path
) -> None:
    code, stdout, stderr = await run_python(fake, "-c", LOOP_SCRIPT, cwd=tmp_path)
    assert "Event loop is closed" not in stderr
    assert stderr == ""
    assert code == 0
    assert stdout == "blocking\nawaited\n" * 2
