"""Execution-level record/replay: RecordingExecutor against the fake, ReplayExecutor offline."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from support import fast_config
from support.replay import everything, job_progress, read_json, replayer, same
from un_async import (
    AsyncClient,
    BadRequestError,
    ConfigurationError,
    CredentialsError,
    ExecutionResult,
    JobStatus,
    JobTimeoutError,
)
from un_async.backends.replay import (
    Cassette,
    CassetteMissError,
    Interaction,
    RecordingExecutor,
    ReplayExecutor,
    reset_shared_sessions,
)
from un_async.backends.replay import executor as executor_module
from un_async.backends.replay.matching import submit_request
from un_async.core.credentials import Credentials
from un_async.core.executor import BaseExecutor
from un_async.core.models import ExecutionRequest, Record
from un_async.testing import TEST_PUBLIC_KEY, TEST_SECRET_KEY, FakeUnsandbox


async def test_replay_gives_the_recorded_results_and_errors(
    fake: FakeUnsandbox, recorder: Callable[..., AsyncClient], cassette_file: Path
) -> None:
    session_id = fake.add_session()
    async with recorder() as client:
        recorded = await everything(client, session_id)

    async with replayer(cassette_file) as client:
        replayed = await everything(client, session_id)

    assert len(recorded) == len(replayed) == 15
    for index, (one, other) in enumerate(zip(recorded, replayed, strict=True)):
        assert same(one, other), f"outcome #{index} differs"
    assert recorded[1].exit_code == 3
    assert recorded[9][0] is BadRequestError


async def test_a_waited_job_records_its_polls_and_replays_the_final_state_at_once(
    fake: FakeUnsandbox,
    recorder: Callable[..., AsyncClient],
    cassette_file: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake.mode, fake.queue_delay, fake.default_duration = "job", 0.02, 0.02
    async with recorder() as client:
        recorded = await client.execute_code("python", 'print("polled")')
    document = read_json(cassette_file)
    (submit,) = document["interactions"]
    statuses = [poll["response"]["value"]["status"] for poll in submit["polls"]]
    assert submit["response"]["value"]["status"] == "pending"
    assert statuses[-1] == "completed"
    assert submit["timing"]["polls"] == len(statuses) >= 1
    assert submit["timing"]["until_final"] >= submit["timing"]["elapsed"]

    async def no_polling(*args: object) -> None:
        raise AssertionError("a replayed execute_code must not poll")

    monkeypatch.setattr(ReplayExecutor, "poll_job", no_polling)
    async with replayer(cassette_file) as client:
        replayed = await client.execute_code("python", 'print("polled")')
    assert same(recorded, replayed)
    assert replayed.stdout == "polled\n"


async def test_identical_polls_replay_pending_running_completed_in_order(
    fake: FakeUnsandbox, recorder: Callable[..., AsyncClient], cassette_file: Path
) -> None:
    async with recorder() as client:
        job_id, seen = await job_progress(fake, client)
    assert seen == [JobStatus.PENDING, JobStatus.RUNNING, JobStatus.COMPLETED]

    async with replayer(cassette_file) as client:
        assert await client.execute_async("python", "print(1)") == job_id
        assert [(await client.get_job(job_id)).status for _ in range(3)] == seen
        with pytest.raises(CassetteMissError, match="all were already used"):
            await client.get_job(job_id)


class StuckBackend(BaseExecutor):
    """An executor whose jobs never finish (to record a wait that times out)."""

    name = "stuck"

    def __init__(self) -> None:
        self.polls = 0

    async def submit(
        self, credentials: Credentials, request: ExecutionRequest, *, wait: bool
    ) -> ExecutionResult:
        return ExecutionResult(job_id="stuck-1", status=JobStatus.PENDING)

    async def get_job(self, credentials: Credentials, job_id: str) -> ExecutionResult:
        self.polls += 1
        status = JobStatus.PENDING if self.polls == 1 else JobStatus.RUNNING
        return ExecutionResult(job_id=job_id, status=status)

    async def get_languages(self, credentials: Credentials) -> list[str]:
        return ["python"]

    async def cancel_job(self, credentials: Credentials, job_id: str) -> Record:
        return Record({"job_id": job_id, "status": "cancelled"})

    async def aclose(self) -> None:
        return None


async def test_a_recorded_timeout_replays_as_a_timeout(cassette_file: Path) -> None:
    backend = RecordingExecutor(StuckBackend(), cassette_file)
    async with AsyncClient(
        config=fast_config(), backend=backend, public_key="pk-stuck", secret_key="sk-stuck"
    ) as client:
        with pytest.raises(JobTimeoutError):
            await client.execute_code("python", "loop()", timeout=0.05)
    document = read_json(cassette_file)
    operations = [item["request"]["operation"] for item in document["interactions"]]
    assert operations == ["submit", "cancel_job"]
    assert "until_final" not in document["interactions"][0]["timing"]

    async with replayer(cassette_file) as client:
        with pytest.raises(JobTimeoutError) as caught:
            await client.execute_code("python", "loop()", timeout=0.05)
    assert caught.value.last_state.status is JobStatus.RUNNING


def timed_cassette() -> Cassette:
    request = ExecutionRequest(language="python", code="print(1)")
    final = {"job_id": "j", "status": "completed", "stdout": "1\n", "exit_code": 0}
    return Cassette(
        level="execution",
        interactions=[
            Interaction(
                request=submit_request(request, wait=True),
                response={"value": {"job_id": "j", "status": "pending"}},
                timing={"elapsed": 2.0, "until_final": 5.0, "polls": 1},
                polls=[{"response": {"value": final}, "timing": {"elapsed": 1.0}}],
            ),
            Interaction(
                request={"operation": "list_jobs"},
                response={"value": []},
                timing={"elapsed": 3.0},
            ),
        ],
    )


@pytest.mark.parametrize(
    ("latency", "sleeps"),
    [("none", []), ("recorded", [5.0, 3.0]), ("scaled:0.1", [0.5, 0.3])],
)
async def test_latency_modes_sleep_the_recorded_times(
    latency: str, sleeps: list[float], monkeypatch: pytest.MonkeyPatch
) -> None:
    slept: list[float] = []

    async def record_sleep(seconds: float) -> None:
        slept.append(round(seconds, 6))

    monkeypatch.setattr(executor_module, "sleep", record_sleep)
    async with replayer(timed_cassette(), latency=latency) as client:
        result = await client.execute_code("python", "print(1)")
        await client.list_jobs()
    assert result.stdout == "1\n"
    assert slept == sleeps


async def test_repeat_replays_a_recording_again_and_again() -> None:
    async with replayer(timed_cassette(), repeat=True) as client:
        results = [await client.execute_code("python", "print(1)") for _ in range(3)]
    assert [r.stdout for r in results] == ["1\n"] * 3


async def test_the_replay_backend_is_selected_by_environment(
    fake: FakeUnsandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cassette = tmp_path / "env" / "program.json"
    monkeypatch.setenv("UN_ASYNC_BACKEND", "replay")
    monkeypatch.setenv("UN_ASYNC_CASSETTE", str(cassette))
    monkeypatch.setenv("UN_ASYNC_RECORD_MODE", "once")
    monkeypatch.setenv("UNSANDBOX_API_URL", fake.url)
    monkeypatch.setenv("UNSANDBOX_PUBLIC_KEY", TEST_PUBLIC_KEY)
    monkeypatch.setenv("UNSANDBOX_SECRET_KEY", TEST_SECRET_KEY)
    async with AsyncClient(languages_cache_path=False) as client:
        assert isinstance(client.executor, RecordingExecutor)
        recorded = await client.execute_code("python", 'print("env")')
    assert fake.count_requests("POST", "/execute") == 1

    for name in ("UNSANDBOX_PUBLIC_KEY", "UNSANDBOX_SECRET_KEY"):
        monkeypatch.delenv(name)
    monkeypatch.setenv("UN_ASYNC_RECORD_MODE", "none")
    async with AsyncClient(languages_cache_path=False) as client:
        assert isinstance(client.executor, ReplayExecutor)
        assert client.executor.requires_credentials is False
        replayed = await client.execute_code("python", 'print("env")')
    assert same(recorded, replayed)
    assert fake.count_requests("POST", "/execute") == 1


async def test_new_episodes_replays_hits_and_appends_misses(
    fake: FakeUnsandbox, tmp_path: Path
) -> None:
    cassette = tmp_path / "episodes.json"
    options = {"cassette": str(cassette), "record_mode": "new_episodes"}
    keys = {"public_key": TEST_PUBLIC_KEY, "secret_key": TEST_SECRET_KEY}
    for code in ('print("one")', 'print("two")'):
        config = fast_config(base_url=fake.url, backend="replay", options=options)
        async with AsyncClient(config=config, **keys) as client:
            await client.execute_code("python", 'print("one")')
            await client.execute_code("python", code)
        reset_shared_sessions()
    document = read_json(cassette)
    assert [i["request"]["code"] for i in document["interactions"]] == [
        'print("one")',
        'print("one")',
        'print("two")',
    ]
    assert fake.count_requests("POST", "/execute") == 3

    config = fast_config(backend="replay", options=options)
    with pytest.raises(CredentialsError):
        async with AsyncClient(config=config) as client:
            await client.execute_code("python", 'print("one")')


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({}, "needs a cassette file"),
        ({"cassette": "x.json", "record_mode": "recrod"}, "unknown record mode 'recrod'"),
        ({"cassette": "missing.json"}, "does not exist"),
        ({"cassette": "x.json", "record_mode": "all", "record_backend": "replay"}, "itself"),
    ],
)
def test_bad_replay_configuration_fails_when_the_client_is_built(
    options: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message):
        AsyncClient(config=fast_config(backend="replay", options=options))
