"""execute_many: bounded fan-out, outcomes in completion order, cancellation on exit."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from support import KEYS, MakeClient, until
from un_async import (
    AsyncClient,
    BadRequestError,
    ExecutionOutcome,
    ExecutionRequest,
    ExecutionResult,
    ExecutionStream,
    JobStatus,
    ValidationError,
    execute_many,
)
from un_async.testing import FakeUnsandbox


class Gate:
    """A ``run`` function whose executions finish when the test releases them; it counts
    the executions in progress."""

    def __init__(self) -> None:
        self.released: dict[str, asyncio.Event] = {}
        self.running = 0
        self.most = 0
        self.cancelled: list[str] = []
        self._changed = asyncio.Condition()

    def release(self, code: str) -> None:
        self.released.setdefault(code, asyncio.Event()).set()

    async def until_running(self, count: int) -> None:
        """Wait (at most 5 s) until at least ``count`` executions are in progress."""
        async with asyncio.timeout(5), self._changed:
            await self._changed.wait_for(lambda: self.running >= count)

    async def run(self, request: ExecutionRequest) -> ExecutionResult:
        async with self._changed:
            self.running += 1
            self.most = max(self.most, self.running)
            self._changed.notify_all()
        try:
            await self.released.setdefault(request.code, asyncio.Event()).wait()
        except asyncio.CancelledError:
            self.cancelled.append(request.code)
            raise
        finally:
            self.running -= 1
        return ExecutionResult(job_id=request.code, status=JobStatus.COMPLETED, stdout=request.code)


async def test_outcomes_arrive_in_completion_order() -> None:
    gate = Gate()
    stream = ExecutionStream(gate.run, [("python", c) for c in ("a", "b", "c")], concurrency=3)
    seen: list[int] = []
    for code in ("c", "a", "b"):
        gate.release(code)
        outcome = await anext(stream)
        seen.append(outcome.index)
        assert outcome.unwrap().stdout == code
    assert seen == [2, 0, 1]
    with pytest.raises(StopAsyncIteration):
        await anext(stream)


async def test_concurrency_is_bounded_and_progress_reported() -> None:
    gate = Gate()
    reports: list[tuple[int, int | None, int]] = []
    stream = ExecutionStream(
        gate.run,
        [("python", str(i)) for i in range(10)],
        concurrency=3,
        progress=lambda done, total, outcome: reports.append((done, total, outcome.index)),
    )
    collecting = asyncio.ensure_future(stream.collect())
    for i in range(10):  # each release waits for every slot that can be busy to be taken
        await gate.until_running(min(3, 10 - i))
        gate.release(str(i))
    outcomes = await collecting
    assert [o.index for o in outcomes] == list(range(10))
    assert gate.most == 3
    assert [(done, total) for done, total, _ in reports] == [(n, 10) for n in range(1, 11)]
    assert sorted(index for _, _, index in reports) == list(range(10))


async def test_unsized_input_is_consumed_lazily() -> None:
    gate = Gate()
    pulled: list[int] = []

    def requests() -> Iterator[tuple[str, str]]:
        for i in range(5):
            pulled.append(i)
            yield ("python", str(i))

    stream = ExecutionStream(gate.run, requests(), concurrency=2)
    gate.release("0")
    first = await anext(stream)
    assert stream.total is None
    assert first.ok
    assert len(pulled) < 5
    for i in range(1, 5):
        gate.release(str(i))
    rest = [o async for o in stream]
    assert sorted(o.index for o in [first, *rest]) == list(range(5))


async def test_breaking_iterator_input_ends_the_batch() -> None:
    gate = Gate()

    def requests() -> Iterator[tuple[str, str]]:
        yield ("python", "stuck")
        raise RuntimeError("no more input")

    async with ExecutionStream(gate.run, requests(), concurrency=4) as stream:
        await gate.until_running(1)
        with pytest.raises(RuntimeError, match="no more input"):
            await anext(stream)
        assert gate.cancelled == ["stuck"]
        assert [o async for o in stream] == []


async def test_aclose_cancels_pending_work() -> None:
    gate = Gate()
    gate.release("quick")
    stream = ExecutionStream(gate.run, [("python", c) for c in ("quick", "x", "y")])
    async with stream:
        assert (await anext(stream)).unwrap().stdout == "quick"
    assert sorted(gate.cancelled) == ["x", "y"]
    assert [o async for o in stream] == []


async def test_cancelling_the_consumer_cancels_pending_work() -> None:
    gate = Gate()
    stream = ExecutionStream(gate.run, [("python", c) for c in ("x", "y")])
    consumer = asyncio.ensure_future(anext(stream))
    await gate.until_running(2)
    consumer.cancel()
    with pytest.raises(asyncio.CancelledError):
        await consumer
    assert sorted(gate.cancelled) == ["x", "y"]


def test_invalid_concurrency() -> None:
    with pytest.raises(ValidationError, match="concurrency"):
        ExecutionStream(Gate().run, [], concurrency=0)


def test_outcome_unwrap_raises_the_error() -> None:
    outcome = ExecutionOutcome(index=4, request=None, error=ValidationError("bad item"))
    assert not outcome.ok
    with pytest.raises(ValidationError, match="bad item"):
        outcome.unwrap()


# -- through the client and the fake server -------------------------------------------------


async def test_per_item_errors_do_not_abort_the_batch(fake: FakeUnsandbox) -> None:
    fake.script("python", "good", stdout="ok\n")
    items: list[Any] = [
        ("python", "good"),
        ("Not A Language", "x"),
        {"language": "python", "code": "good", "ttl": 5},
        ("nosuchlang", "x"),
        {"language": "python", "kode": "typo"},
        42,
    ]
    async with AsyncClient(base_url=fake.url, languages_cache_path=False, **KEYS) as client:
        outcomes = await client.execute_many(items, concurrency=2).collect()
    assert [o.ok for o in outcomes] == [True, False, True, False, False, False]
    assert outcomes[0].unwrap()["stdout"] == "ok\n"
    assert outcomes[2].request is not None
    assert outcomes[2].request.ttl == 5
    assert isinstance(outcomes[1].error, ValidationError)
    assert outcomes[1].request is None
    assert isinstance(outcomes[3].error, BadRequestError)
    assert outcomes[3].request == ExecutionRequest(language="nosuchlang", code="x")
    assert isinstance(outcomes[4].error, ValidationError)
    assert isinstance(outcomes[5].error, ValidationError)


async def test_break_cancels_running_jobs_on_the_server(
    job_fake: FakeUnsandbox, make_client: MakeClient
) -> None:
    job_fake.script("python", "quick", stdout="first\n", duration=0.3)
    job_fake.script("python", "long", duration=30)
    items = [("python", "quick")] + [("python", "long")] * 9
    client = make_client(job_fake, shared_polling=False)  # per-job polls name the job ids
    async for outcome in client.execute_many(items, concurrency=4):
        first = outcome
        await until(lambda: len(job_fake.jobs) == 5)  # the quick job's slot went on...
        newest = f"/jobs/{list(job_fake.jobs)[-1]}"
        await until(lambda path=newest: job_fake.count_requests("GET", path))  # ...and is polled
        break
    # The dropped stream's executions are cancelled and cancel their jobs on the server...
    await until(lambda: job_fake.count_requests("DELETE", "/jobs/") >= 4)
    await client.aclose()  # ...and the client waits for those cancellations to finish
    assert first.unwrap().stdout == "first\n"
    statuses = sorted(job_fake.job_status(job_id) for job_id in job_fake.jobs)
    assert statuses == ["cancelled"] * 4 + ["completed"]


async def test_module_function(fake_env: FakeUnsandbox) -> None:
    fake_env.script("python", "print(1)", stdout="1\n")
    outcomes = [o async for o in execute_many([("python", "print(1)")] * 3, concurrency=2)]
    assert sorted(o.index for o in outcomes) == [0, 1, 2]
    assert {o.unwrap().stdout for o in outcomes} == {"1\n"}
