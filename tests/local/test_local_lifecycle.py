"""The backend's life around its jobs: closing it while the first submit is still setting
up starts nothing; preparing a workspace never stalls the event loop; a cancel answered
``cancelled`` stays the final word; work directories that a killed process left behind are
removed by the next backend — only those."""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from support import until
from support.local_backend import live_processes, local_environ, options
from un_async import AsyncClient, ClientClosedError
from un_async.backends.local.backend import LocalBackend
from un_async.backends.local.jobs import Job
from un_async.backends.local.results import local_result
from un_async.backends.local.runner import Runner
from un_async.backends.local.settings import LocalSettings
from un_async.core.credential_chain import NO_CREDENTIALS
from un_async.core.models import ExecutionRequest, JobStatus

pytestmark = pytest.mark.asyncio(loop_scope="module")


class SlowFirstUse(LocalBackend):
    """Its first use's setup waits until released, as a slow isolation probe would."""

    def __init__(self, settings: LocalSettings, environ: dict[str, str]) -> None:
        super().__init__(settings, environ=environ)
        self.setting_up = threading.Event()
        self.release = threading.Event()
        self.closing = asyncio.Event()

    def _setup_sync(self, *, refresh: bool = False) -> Runner:
        self.setting_up.set()
        self.release.wait(30)
        return super()._setup_sync(refresh=refresh)

    async def aclose(self) -> None:
        self.closing.set()
        await super().aclose()


async def test_aclose_during_the_first_submit_leaves_nothing_running(
    best_level: str, private_tmp: Path, secret_home: Path
) -> None:
    settings = LocalSettings.from_setting(options(best_level).get)
    backend = SlowFirstUse(settings, local_environ(secret_home))
    token = f"5000.{secrets.randbelow(10**9)}"
    request = ExecutionRequest(language="bash", code=f"sleep {token}", ttl=60)
    submit = asyncio.ensure_future(backend.submit(NO_CREDENTIALS, request, wait=False))
    try:
        await asyncio.to_thread(backend.setting_up.wait, 10)
        closing = asyncio.ensure_future(backend.aclose())
        await until(backend.closing.is_set)
        backend.release.set()
        await asyncio.wait_for(closing, 30)
        with pytest.raises(ClientClosedError):
            await submit
    finally:
        backend.release.set()
    assert live_processes(token) == []
    assert await backend.list_jobs(NO_CREDENTIALS) == []
    assert os.listdir(private_tmp) == []


async def test_preparing_many_input_files_does_not_stall_the_event_loop(
    best: AsyncClient,
) -> None:
    """3000 small input files and an artifact snapshot: written in a worker thread while
    the loop keeps ticking (measured, not slept on: a ticker records the longest gap)."""
    files = {f"inputs/{n // 100}/file-{n}.txt": f"{n}\n".encode() for n in range(3000)}
    await best.execute_code("bash", "true")  # the one-time probe is behind us
    loop = asyncio.get_running_loop()
    gaps: list[float] = []
    stop = asyncio.Event()

    async def tick() -> None:
        last = loop.time()
        while not stop.is_set():
            await asyncio.sleep(0.005)
            now = loop.time()
            gaps.append(now - last)
            last = now

    ticker = asyncio.ensure_future(tick())
    try:
        result = await best.execute_code(
            "bash", "ls inputs/*/ | grep -c file-", input_files=files, return_artifact=True
        )
    finally:
        stop.set()
        await ticker
    assert (result.status, result.stdout) == ("completed", "3000\n"), result.stderr
    assert max(gaps) < 0.4, f"the event loop stalled for {max(gaps):.2f} s"


async def test_a_cancel_answered_cancelled_is_the_final_status() -> None:
    """The program ended by itself just before the cancel arrived: the result says
    cancelled, as the answer did, and keeps what the program did."""
    request = ExecutionRequest(language="bash", code="echo hi")
    job = Job(request, {"level": "none"})
    job.status = JobStatus.RUNNING
    job.cancel()
    answered = job.snapshot().raw_status
    finished = local_result(
        job_id=job.id,
        language="bash",
        status=JobStatus.COMPLETED,
        isolation={"level": "none"},
        network_mode="zerotrust",
        created_at=job.created_at,
        stdout="hi\n",
        exit_code=0,
    )
    job.finish(finished)
    final = await job.wait()
    assert answered == "cancelled"
    assert (final.status, final.stdout, final.exit_code, final["success"]) == (
        "cancelled",
        "hi\n",
        0,
        False,
    )
    assert final.error is not None
    assert "already ended" in final.error


def started(client: AsyncClient, job_id: str) -> bool:
    backend = client.executor
    assert isinstance(backend, LocalBackend)
    job = backend._jobs.find(job_id)
    return job is not None and job.status is not JobStatus.PENDING


async def test_cancels_racing_the_end_of_jobs_agree_with_their_answers(fresh: AsyncClient) -> None:
    """Cancels sent while short jobs end: whatever each cancel answered is final."""
    files = {f"f{n}": b"x" for n in range(100)}  # a cleanup long enough to race with
    answers = []
    for _ in range(8):
        job_id = await fresh.execute_async("bash", "true", input_files=files)
        await until(lambda job_id=job_id: started(fresh, job_id), timeout=10)
        answer = await fresh.cancel_job(job_id)
        result = await fresh.wait_for_job(job_id)
        assert result.raw_status == answer["status"], (answer, result.error)
        answers.append(answer["status"])
    assert set(answers) <= {"cancelled", "completed"}


# -- work directories of killed processes --------------------------------------------------

ORPHAN = """\
import os, signal
from un_async.backends.local.workspace import Workspace
workspace = Workspace.create(None, build=True, etc=True)
workspace.write("left.txt", b"behind")
print(workspace.layout.root, flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


@pytest.fixture
def temporary_directory(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """``tempfile.gettempdir()`` of its own for one test."""
    folder = Path(tempfile.mkdtemp(prefix="un-async-sweep-"))
    os.chmod(folder, 0o711)  # noqa: S103 - traversable by the program's uid
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    try:
        yield folder
    finally:
        shutil.rmtree(folder)


def dead_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def orphan_workspace(folder: Path) -> Path:
    """A workspace made in ``folder`` by a process that was then killed with SIGKILL."""
    done = subprocess.run(
        [sys.executable, "-c", ORPHAN],
        capture_output=True,
        text=True,
        env={**os.environ, "TMPDIR": str(folder)},
        check=False,
    )
    assert done.returncode == -signal.SIGKILL, done.stderr
    orphan = Path(done.stdout.strip())
    assert orphan.parent == folder
    assert (orphan / "work" / "left.txt").exists()
    return orphan


def decoys(folder: Path, namespace: str) -> list[Path]:
    """Entries the sweep must leave alone."""
    pid = dead_pid()
    kept = [
        folder / f"un-async-{os.getpid()}-{namespace}-alive",  # a live owner
        folder / f"un-async-{pid}-1{namespace}-elsewhere",  # another PID namespace
        folder / "un-async-tests-unrelated",  # not named as ours
    ]
    for path in kept:
        path.mkdir()
    plain_file = folder / f"un-async-{pid}-{namespace}-file"
    plain_file.write_text("not a directory")
    kept.append(plain_file)
    if os.geteuid() == 0:
        foreign = folder / f"un-async-{pid}-{namespace}-foreign"
        foreign.mkdir()
        os.chown(foreign, 65534, 65534)  # another user's
        kept.append(foreign)
    return kept


def remaining(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir())


async def test_work_directories_of_killed_processes_are_swept(
    best_level: str, temporary_directory: Path, secret_home: Path
) -> None:
    orphan = await asyncio.to_thread(orphan_workspace, temporary_directory)
    kept = decoys(temporary_directory, namespace=orphan.name.split("-")[3])
    async with AsyncClient(
        backend="local", backend_options=options(best_level), environ=local_environ(secret_home)
    ) as client:
        result = await client.execute_code("bash", "echo fresh")
    assert result.stdout == "fresh\n"
    assert remaining(temporary_directory) == sorted(path.name for path in kept)
