"""AsyncClient: configuration, execution options, the job lifecycle, deadlines, lifecycle."""

from __future__ import annotations

import asyncio
import base64
import gc
import logging
import random
import textwrap
import warnings
from pathlib import Path
from typing import Any

import pytest

from support import KEYS, MakeClient, request_paths, until
from support.subprocesses import run_python_cleanly
from un_async import (
    AsyncClient,
    ClientClosedError,
    ClientConfig,
    ExecutionResult,
    JobStatus,
    JobTimeoutError,
    ValidationError,
    execute_code,
    get_default_client,
)
from un_async.core.config import DEFAULT_BASE_URL, POLL_SCHEDULE
from un_async.core.waiting import WaitPolicy
from un_async.testing import TEST_PUBLIC_KEY, TEST_SECRET_KEY, FakeUnsandbox, Fault

LONG = "import time\ntime.sleep(30)\nprint('done')"


@pytest.fixture
def job_client(job_fake: FakeUnsandbox, make_client: MakeClient) -> AsyncClient:
    """A client of ``job_fake`` polling every 10 ms (the default schedule starts at 0.3 s)."""
    return make_client(job_fake)


def fast_polling(fake: FakeUnsandbox, **fields: Any) -> AsyncClient:
    """A client with the default settings except a 10 ms poll interval."""
    return AsyncClient(
        config=ClientConfig(base_url=fake.url, poll_schedule=(0.01,), **fields), **KEYS
    )


# -- configuration ------------------------------------------------------------------------


def test_default_base_url() -> None:
    assert AsyncClient(**KEYS).config.base_url == DEFAULT_BASE_URL == "https://api.unsandbox.com"


def test_base_url_from_environment_and_argument(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UNSANDBOX_API_URL", "https://env.example.test/")
    assert AsyncClient(**KEYS).config.base_url == "https://env.example.test"
    explicit = AsyncClient(base_url="https://arg.example.test", **KEYS)
    assert explicit.config.base_url == "https://arg.example.test"


async def test_base_url_from_environment_is_used(
    fake: FakeUnsandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("UNSANDBOX_API_URL", fake.url)
    async with AsyncClient(**KEYS) as client:
        await client.list_jobs()
    assert request_paths(fake) == [("GET", "/jobs")]


def test_repr_shows_no_keys() -> None:
    text = repr(AsyncClient(**KEYS))
    assert TEST_SECRET_KEY not in text
    assert TEST_PUBLIC_KEY not in text
    assert "api.unsandbox.com" in text


async def test_session_is_created_in_the_running_loop(fake: FakeUnsandbox) -> None:
    built_in_this_loop = AsyncClient(base_url=fake.url, **KEYS)

    def elsewhere() -> list[int]:
        built_without_loop = AsyncClient(base_url=fake.url, **KEYS)

        async def use(client: AsyncClient) -> int:
            async with client:
                return len(await client.list_jobs())

        # Each client binds to the loop that first uses it, not to where it was built.
        return [asyncio.run(use(built_without_loop)), asyncio.run(use(built_in_this_loop))]

    assert await asyncio.to_thread(elsewhere) == [0, 0]
    assert built_in_this_loop.closed
    assert request_paths(fake) == [("GET", "/jobs"), ("GET", "/jobs")]


# -- execution options --------------------------------------------------------------------


async def test_options_are_sent(fake: FakeUnsandbox, client: AsyncClient) -> None:
    files: dict[str, bytes | str] = {"data.bin": b"\x00\x01\xfe\xff", "notes.txt": "héllo"}
    await client.execute_code(
        "python",
        "print(1)",
        env={"GREETING": "hello", "EMPTY": ""},
        input_files=files,
        network_mode="semitrusted",
        ttl=60,
        vcpu=4,
    )
    body = fake.requests[0].json()
    assert body["env"] == {"GREETING": "hello", "EMPTY": ""}
    assert body["network_mode"] == "semitrusted"
    assert (body["ttl"], body["vcpu"]) == (60, 4)
    files = {item["filename"]: base64.b64decode(item["content"]) for item in body["input_files"]}
    assert files == {"data.bin": b"\x00\x01\xfe\xff", "notes.txt": "héllo".encode()}
    assert "return_artifact" not in body


async def test_unset_options_are_omitted(fake: FakeUnsandbox, client: AsyncClient) -> None:
    await client.execute_code("python", "print(1)")
    assert fake.requests[0].json() == {"language": "python", "code": "print(1)"}


@pytest.mark.parametrize("mode", ["zerotrust", "semitrusted"])
async def test_network_mode_round_trip(fake: FakeUnsandbox, client: AsyncClient, mode: str) -> None:
    result = await client.execute_code("python", "print(1)", network_mode=mode)
    assert result["network_mode"] == mode


async def test_artifacts_are_returned_decoded(fake: FakeUnsandbox, client: AsyncClient) -> None:
    blob = bytes(range(256))
    fake.script("python", "make()", stdout="made\n", artifacts={"out.bin": blob, "a.txt": "hi"})
    result = await client.execute_code("python", "make()", return_artifact=True)
    assert fake.requests[0].json()["return_artifact"] is True
    assert {a.filename: a.content for a in result.artifacts} == {"out.bin": blob, "a.txt": b"hi"}


@pytest.mark.parametrize(
    "options",
    [{"ttl": 0}, {"ttl": 901}, {"vcpu": 0}, {"vcpu": 9}, {"network_mode": "open"}],
)
async def test_out_of_range_options_send_nothing(
    fake: FakeUnsandbox, client: AsyncClient, options: dict[str, Any]
) -> None:
    with pytest.raises(ValidationError):
        await client.execute_code("python", "print(1)", **options)
    with pytest.raises(ValidationError):
        await client.execute_async("python", "print(1)", **options)
    assert fake.request_count == 0


async def test_ttl_shorter_than_the_run_ends_in_timeout_status(
    job_fake: FakeUnsandbox, job_client: AsyncClient
) -> None:
    job_fake.script("python", "slow()", duration=2.0)
    call = asyncio.create_task(job_client.execute_code("python", "slow()", ttl=1))
    await until(lambda: job_fake.jobs)
    job_fake.advance(1.5)  # the job's clock passes its 1 s ttl, not its 2 s run
    result = await call
    assert result.status is JobStatus.TIMEOUT
    assert result.is_final
    assert result["status"] == "timeout"


# -- the job lifecycle --------------------------------------------------------------------


async def test_synchronous_answer_needs_no_polling(fake: FakeUnsandbox) -> None:
    fake.mode = "sync"
    async with AsyncClient(base_url=fake.url, **KEYS) as client:
        result = await client.execute_code("python", "print('now')")
    assert result.stdout == "now\n"
    assert request_paths(fake) == [("POST", "/execute")]


async def test_pending_job_is_polled_to_completion(
    job_fake: FakeUnsandbox, job_client: AsyncClient
) -> None:
    job_fake.default_duration = 0.05
    result = await job_client.execute_code("python", "print('later')")
    assert result.stdout == "later\n"
    assert result.status is JobStatus.COMPLETED
    assert request_paths(job_fake)[0] == ("POST", "/execute")
    assert all(p == ("GET", f"/jobs/{result.job_id}") for p in request_paths(job_fake)[1:])
    assert len(job_fake.requests) >= 2


async def test_auto_mode_answers_short_runs_directly_and_long_ones_as_jobs(
    fake: FakeUnsandbox,
) -> None:
    fake.sync_threshold = 0.2
    fake.script("python", "quick()", duration=0.0, stdout="q\n")
    fake.script("python", "slow()", duration=0.3, stdout="s\n")
    async with fast_polling(fake) as client:
        quick, slow = await asyncio.gather(
            client.execute_code("python", "quick()"), client.execute_code("python", "slow()")
        )
    assert (quick.stdout, slow.stdout) == ("q\n", "s\n")
    assert fake.count_requests("GET", f"/jobs/{quick.job_id}") == 0
    assert fake.count_requests("GET", f"/jobs/{slow.job_id}") >= 1


async def test_execute_async_returns_the_job_id_at_once(
    job_fake: FakeUnsandbox, job_client: AsyncClient
) -> None:
    job_fake.default_duration = 30
    job_id = await job_client.execute_async("python", "print(1)")
    assert isinstance(job_id, str)
    assert job_fake.job_status(job_id) == "running"
    assert request_paths(job_fake) == [("POST", "/execute/async")]


async def test_execute_async_falls_back_to_execute_when_async_endpoint_is_missing(
    fake: FakeUnsandbox, client: AsyncClient
) -> None:
    fake.inject(Fault.status(404, path="/execute/async", exact=True))
    first = await client.execute_async("python", "print(1)")
    second = await client.execute_async("python", "print(2)")
    assert {first, second} <= set(fake.jobs)
    assert request_paths(fake) == [
        ("POST", "/execute/async"),
        ("POST", "/execute"),
        ("POST", "/execute"),
    ]


@pytest.mark.parametrize("status", ["completed", "failed", "timeout", "cancelled"])
async def test_terminal_statuses_end_the_wait(
    job_fake: FakeUnsandbox, job_client: AsyncClient, status: str
) -> None:
    job_fake.script("python", "x()", status=status, exit_code=1 if status == "failed" else 0)
    result = await job_client.execute_code("python", "x()")
    assert result["status"] == status
    assert result.status is JobStatus(status)


async def test_failed_program_is_a_result(fake: FakeUnsandbox, client: AsyncClient) -> None:
    result = await client.execute_code("python", "print('partial')\nraise ValueError('boom')")
    assert result["exit_code"] == 1
    assert result["stdout"] == "partial\n"
    assert "ValueError: boom" in result["stderr"]
    assert not result.success


async def test_unknown_status_is_kept_and_waited_through(
    job_fake: FakeUnsandbox, job_client: AsyncClient
) -> None:
    job_fake.script("python", "odd()", status="queued_for_review")
    job_id = await job_client.execute_async("python", "odd()")
    state = await job_client.get_job(job_id)
    assert state.status is JobStatus.UNKNOWN
    assert state["status"] == "queued_for_review"
    assert not state.is_final
    with pytest.raises(JobTimeoutError) as caught:
        await job_client.wait_for_job(job_id, timeout=0.2)
    last = caught.value.last_state
    assert isinstance(last, ExecutionResult)
    assert last.raw_status == "queued_for_review"
    assert "queued_for_review" in str(caught.value)


async def test_registration_race_404_is_ridden_out(
    job_fake: FakeUnsandbox, job_client: AsyncClient
) -> None:
    job_fake.inject(Fault.not_found_race(count=1))
    result = await job_client.execute_code("python", "print('found')")
    assert result.stdout == "found\n"


def test_poll_schedule_is_the_seeds() -> None:
    assert POLL_SCHEDULE == (0.3, 0.45, 0.7, 0.9, 0.65, 1.6, 2.0)
    assert [WaitPolicy(jitter=0).delay(i, random.Random()) for i in range(9)] == [
        0.3,
        0.45,
        0.7,
        0.9,
        0.65,
        1.6,
        2.0,
        2.0,
        2.0,
    ]


def test_poll_delays_stay_within_jitter_bounds() -> None:
    policy = WaitPolicy(jitter=0.1)
    rng = random.Random(1234)
    for index in range(40):
        base = POLL_SCHEDULE[min(index, len(POLL_SCHEDULE) - 1)]
        for _ in range(25):
            assert base * 0.9 <= policy.delay(index, rng) <= base * 1.1


def test_poll_delays_are_jittered() -> None:
    policy = WaitPolicy(jitter=0.1)
    rng = random.Random(99)
    assert len({policy.delay(0, rng) for _ in range(20)}) > 1


# -- cancel -------------------------------------------------------------------------------


@pytest.mark.parametrize("reply", [200, 204])
async def test_cancel_job_with_and_without_body(
    job_fake: FakeUnsandbox, job_client: AsyncClient, reply: int
) -> None:
    job_fake.cancel_status = reply  # type: ignore[assignment]
    job_fake.default_duration = 30
    job_id = await job_client.execute_async("python", "print(1)")
    result = await job_client.cancel_job(job_id)
    assert result["status"] == "cancelled"
    assert result["job_id"] == job_id
    assert job_fake.job_status(job_id) == "cancelled"
    assert job_fake.response_statuses[reply] >= 1


# -- deadlines ----------------------------------------------------------------------------


async def test_execute_timeout_cancels_the_server_job(
    job_fake: FakeUnsandbox, job_client: AsyncClient
) -> None:
    with pytest.raises(JobTimeoutError) as caught:
        await job_client.execute_code("python", LONG, timeout=0.2)
    exc = caught.value
    assert exc.job_id in job_fake.jobs
    assert isinstance(exc.last_state, ExecutionResult)
    assert exc.last_state.job_id == exc.job_id
    assert exc.last_state.status in (JobStatus.PENDING, JobStatus.RUNNING)
    assert request_paths(job_fake)[-1] == ("DELETE", f"/jobs/{exc.job_id}")
    assert job_fake.job_status(exc.job_id) == "cancelled"


async def test_execute_timeout_can_leave_the_job_running(
    job_fake: FakeUnsandbox, job_client: AsyncClient
) -> None:
    with pytest.raises(JobTimeoutError) as caught:
        await job_client.execute_code("python", LONG, timeout=0.2, cancel_on_timeout=False)
    assert job_fake.count_requests("DELETE") == 0
    assert job_fake.job_status(str(caught.value.job_id)) == "running"


async def test_client_wide_opt_out_of_cancel_on_abandon(job_fake: FakeUnsandbox) -> None:
    async with AsyncClient(base_url=job_fake.url, cancel_on_abandon=False, **KEYS) as client:
        with pytest.raises(JobTimeoutError):
            await client.execute_code("python", LONG, timeout=0.2)
    assert job_fake.count_requests("DELETE") == 0


async def test_wait_for_job_timeout_carries_last_state(
    job_fake: FakeUnsandbox, job_client: AsyncClient
) -> None:
    job_id = await job_client.execute_async("python", LONG)
    with pytest.raises(JobTimeoutError) as caught:
        await job_client.wait_for_job(job_id, timeout=0.2)
    assert caught.value.job_id == job_id
    last = caught.value.last_state
    assert isinstance(last, ExecutionResult)
    assert last.job_id == job_id
    assert last["status"] == "running"
    # Waiting on someone else's job does not cancel it by default.
    assert job_fake.count_requests("DELETE") == 0
    assert job_fake.job_status(job_id) == "running"


async def test_wait_for_job_can_cancel_on_timeout(
    job_fake: FakeUnsandbox, job_client: AsyncClient
) -> None:
    job_id = await job_client.execute_async("python", LONG)
    with pytest.raises(JobTimeoutError):
        await job_client.wait_for_job(job_id, timeout=0.2, cancel_on_timeout=True)
    assert job_fake.job_status(job_id) == "cancelled"


async def test_client_default_deadline(job_fake: FakeUnsandbox) -> None:
    async with AsyncClient(base_url=job_fake.url, timeout=0.2, **KEYS) as client:
        with pytest.raises(JobTimeoutError):
            await client.execute_code("python", LONG)


@pytest.mark.parametrize("timeout", [0, -1])
async def test_non_positive_timeout_is_rejected(
    fake: FakeUnsandbox, client: AsyncClient, timeout: float
) -> None:
    with pytest.raises(ValidationError, match="timeout"):
        await client.execute_code("python", "print(1)", timeout=timeout)
    assert fake.request_count == 0


async def test_timeout_none_waits_without_deadline(
    job_fake: FakeUnsandbox, job_client: AsyncClient
) -> None:
    job_fake.default_duration = 0.05
    result = await job_client.execute_code("python", "print('patient')", timeout=None)
    assert result.stdout == "patient\n"


async def test_cancelling_the_caller_cancels_the_server_job(
    job_fake: FakeUnsandbox, job_client: AsyncClient
) -> None:
    task = asyncio.create_task(job_client.execute_code("python", LONG))
    await until(lambda: bool(job_fake.jobs))
    (job_id,) = job_fake.jobs
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await job_client.aclose()  # waits for the background DELETE
    assert ("DELETE", f"/jobs/{job_id}") in request_paths(job_fake)
    assert job_fake.job_status(job_id) == "cancelled"


async def test_cancellation_during_submit_propagates(fake: FakeUnsandbox) -> None:
    # Long enough to cancel mid-submission; closing the client waits for the rest of it.
    fake.inject(Fault.delay(0.5, path="/execute"))
    async with AsyncClient(base_url=fake.url, **KEYS) as client:
        task = asyncio.create_task(client.execute_code("python", "print(1)"))
        await until(lambda: bool(fake.requests))
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


# -- concurrency and connection reuse -----------------------------------------------------


async def test_sequential_calls_reuse_one_connection(
    fake: FakeUnsandbox, client: AsyncClient
) -> None:
    for n in range(20):
        assert (await client.execute_code("python", f"print({n})")).stdout == f"{n}\n"
    assert fake.request_count == 20
    assert fake.connection_count <= 2


async def test_concurrent_calls(fake: FakeUnsandbox, client: AsyncClient) -> None:
    results = await asyncio.gather(
        *(client.execute_code("python", f"print({n})") for n in range(10))
    )
    assert [r.stdout for r in results] == [f"{n}\n" for n in range(10)]


async def test_max_concurrency_keeps_under_the_server_limit() -> None:
    async with FakeUnsandbox(mode="job", default_duration=0.05, concurrency_limit=2) as server:
        async with fast_polling(server, max_concurrency=2) as client:
            results = await asyncio.gather(
                *(client.execute_code("python", f"print({n})") for n in range(5))
            )
        assert [r.stdout for r in results] == [f"{n}\n" for n in range(5)]
        assert server.response_statuses[429] == 0


# -- lifecycle ----------------------------------------------------------------------------


async def test_aclose_is_idempotent_and_final(fake: FakeUnsandbox) -> None:
    client = AsyncClient(base_url=fake.url, **KEYS)
    await client.list_jobs()
    await client.aclose()
    await client.aclose()
    assert client.closed
    requests = fake.request_count
    with pytest.raises(ClientClosedError, match="closed"):
        await client.list_jobs()
    assert fake.request_count == requests  # refused at once, never retried


async def test_default_client_is_per_loop(fake_env: FakeUnsandbox) -> None:
    here = get_default_client()
    assert get_default_client() is here

    def other_loop() -> bool:
        async def probe() -> bool:
            return get_default_client() is not here

        return asyncio.run(probe())

    assert await asyncio.to_thread(other_loop)


async def test_module_functions_reuse_connections(fake_env: FakeUnsandbox) -> None:
    for n in range(20):
        assert (await execute_code("python", f"print({n})"))["stdout"] == f"{n}\n"
    assert fake_env.request_count == 20
    assert fake_env.connection_count <= 2


def run_in_fresh_loop(script: Any) -> tuple[Any, list[warnings.WarningMessage], list[str]]:
    """Run ``asyncio.run(script())`` in this thread; collect warnings and asyncio errors."""
    logged: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            logged.append(record.getMessage())

    handler = Collect(level=logging.ERROR)
    logging.getLogger("asyncio").addHandler(handler)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            value = asyncio.run(script())
            gc.collect()
    finally:
        logging.getLogger("asyncio").removeHandler(handler)
    return value, caught, logged


async def test_default_client_closes_when_the_loop_ends(fake_env: FakeUnsandbox) -> None:
    async def script() -> AsyncClient:
        for n in range(20):
            await execute_code("python", f"print({n})")
        return get_default_client()

    used, caught, logged = await asyncio.to_thread(run_in_fresh_loop, script)
    assert used.closed
    assert [str(w.message) for w in caught] == []
    assert logged == []
    assert fake_env.connection_count <= 2


async def test_default_client_closes_after_a_cancelled_execution(
    fake_env: FakeUnsandbox,
) -> None:
    fake_env.mode = "job"

    def polling_started() -> bool:
        return any(r.method == "GET" and r.path.startswith("/jobs") for r in fake_env.requests)

    async def script() -> AsyncClient:
        task = asyncio.create_task(execute_code("python", LONG))
        await until(polling_started)  # so it knows the job id
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return get_default_client()

    used, caught, logged = await asyncio.to_thread(run_in_fresh_loop, script)
    assert used.closed
    assert [str(w.message) for w in caught] == []
    assert logged == []
    (job_id,) = fake_env.jobs
    assert fake_env.job_status(job_id) == "cancelled"


SCRIPT = textwrap.dedent(
    """
    import asyncio
    from un_async import execute_code, get_languages, list_jobs

    async def main():
        for n in range(20):
            result = await execute_code("python", f"print({n})")
        print(result["stdout"].strip(), len(await get_languages()), len(await list_jobs()))

    asyncio.run(main())
    """
)


async def test_script_with_asyncio_run_exits_cleanly(fake: FakeUnsandbox, tmp_path: Path) -> None:
    stdout = await run_python_cleanly(fake, "-c", SCRIPT, cwd=tmp_path)
    assert stdout.split() == ["19", str(len(fake.languages)), "20"]
    assert fake.connection_count <= 2


async def test_a_cancel_still_owed_when_the_loop_shuts_down_is_sent(
    fake_env: FakeUnsandbox,
) -> None:
    """``asyncio.run`` cancels every task before closing the default client: a background
    cancel caught mid-request then is sent again instead of being dropped."""
    fake_env.mode = "job"
    fake_env.inject(Fault.delay(0.5, method="DELETE", times=1))

    def deleting() -> bool:
        return any(r.method == "DELETE" for r in fake_env.requests)

    async def script() -> AsyncClient:
        task = asyncio.create_task(execute_code("python", LONG))
        await until(lambda: any(r.path.startswith("/jobs") for r in fake_env.requests))
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await until(deleting)  # the first DELETE is held by the fake when the loop ends
        return get_default_client()

    used, caught, _logged = await asyncio.to_thread(run_in_fresh_loop, script)
    assert used.closed
    assert [str(w.message) for w in caught] == []
    assert fake_env.count_requests("DELETE") == 2
    (job_id,) = fake_env.jobs
    assert fake_env.job_status(job_id) == "cancelled"
