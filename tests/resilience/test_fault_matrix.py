"""The fault matrix: every injectable fault and server condition against execute, wait,
cancel, list and languages.

Each run uses its own fake server and client. A run passes when the operation succeeds or
raises an :class:`~un_async.UnsandboxError` subclass, within the deadline, without a
second job for any submitted program; after all runs no task of the client survives and
no session is left unclosed. Run with ``-s`` to see the summary line.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

import attrs
import pytest

from support import fast_config
from un_async import AsyncClient, UnsandboxError
from un_async.core.retry import RetryPolicy
from un_async.testing import (
    TEST_PUBLIC_KEY,
    TEST_SECRET_KEY,
    FakeUnsandbox,
    Fault,
    LatencyModel,
    error_mix,
)

DEADLINE = 1.5  # the client's wait deadline in every run (a wait on a busy slot takes it all)
SLACK = 2.0  # allowed overrun before a run counts as late
GUARD = DEADLINE + 8.0  # a run still going after this is a hang
MAX_BYTES = 64 * 1024
BIG = {"padding": "x" * (MAX_BYTES + 1000)}
RETRY = RetryPolicy(
    max_attempts=4, base_delay=0.001, max_delay=0.005, retry_after_cap=0.02, deadline=5.0
)

FaultFactory = Callable[..., Fault | list[Fault]]
FAULTS: dict[str, FaultFactory] = {
    "http-408": lambda **m: Fault.status(408, **m),
    "http-500": lambda **m: Fault.status(500, **m),
    "http-502": lambda **m: Fault.status(502, **m),
    "http-502-html": lambda **m: Fault.non_json(502, "<h1>502 Bad Gateway</h1>", **m),
    "http-503": lambda **m: Fault.status(503, **m),
    "http-504": lambda **m: Fault.status(504, **m),
    "http-500-rate-30%": lambda **m: Fault.status(500, rate=0.3, **{**m, "times": None}),
    "http-503-rate-30%": lambda **m: Fault.status(503, rate=0.3, **{**m, "times": None}),
    "http-400": lambda **m: Fault.status(400, **m),
    "http-401-key": lambda **m: Fault.status(401, **m),
    "http-401-timestamp": lambda **m: Fault.status(
        401, {"error": "invalid_timestamp", "message": "Request timestamp expired"}, **m
    ),
    "http-403": lambda **m: Fault.status(403, **m),
    "http-404": lambda **m: Fault.status(404, **m),
    "http-409": lambda **m: Fault.status(409, **m),
    "http-428": lambda **m: Fault.status(428, {"challenge_id": "chal_matrix"}, **m),
    "429-retry-after": lambda **m: Fault.rate_limited(retry_after=1, **m),
    "429-retry-after-date": lambda **m: Fault.rate_limited(
        retry_after="Wed, 21 Oct 2015 07:28:00 GMT", **m
    ),
    "429-no-retry-after": lambda **m: Fault.rate_limited(**m),
    "429-concurrency": lambda **m: Fault.concurrency_limited(**m),
    "reset-before-read": lambda **m: Fault.reset_before_read(**m),
    "reset-after-read": lambda **m: Fault.reset_after_read(**m),
    "truncated-body": lambda **m: Fault.truncated_body(**m),
    "malformed-json": lambda **m: Fault.malformed_json(**m),
    "non-json-200": lambda **m: Fault.non_json(200, **m),
    "empty-204": lambda **m: Fault.empty_204(**m),
    "delay": lambda **m: Fault.delay(0.05, **m),
    "restart": lambda **m: Fault.restart(errors=2, **{k: v for k, v in m.items() if k != "times"}),
    "404-race": lambda **m: Fault.not_found_race(count=2, times=m["times"]),
    "oversized": lambda **m: Fault.status(200, BIG, **m),
    "oversized-chunked": lambda **m: Fault.streamed(BIG, **m),
    "error-mix-busy": lambda **m: error_mix(  # spec §9.4 under load, per request
        {429: 0.1, 500: 0.05, 502: 0.05, 503: 0.1, 504: 0.05}, after=m["after"]
    ),
}
PLACEMENTS: dict[str, dict[str, Any]] = {
    "first": {"after": 0, "times": 2},  # the operation's first requests
    "later": {"after": 1, "times": 2},  # e.g. the polls after a submission
}
CONDITIONS: dict[str, dict[str, Any]] = {
    "clock-ahead": {"clock_offset": 1800.0},
    "clock-behind": {"clock_offset": -1800.0},
    "rate-limit-retry-after": {"rate_limit": (2, 0.05)},
    "rate-limit-bare": {"rate_limit": (2, 0.05), "rate_limit_retry_after": False},
    "concurrency-busy": {"concurrency_limit": 1},
    "latency-degraded": {"latency": "degraded"},
    "slow-queue": {"queue_delay": 0.2},
    "cancel-204": {"cancel_status": 204},
}


@attrs.define
class Run:
    fault: str
    operation: str
    outcome: str = "?"
    elapsed: float = 0.0
    requests: int = 0
    duplicates: int = 0


Operation = Callable[[AsyncClient, str], Awaitable[object]]


async def op_execute(client: AsyncClient, code: str) -> object:
    return await client.execute_code("python", code)


async def op_wait(client: AsyncClient, job_id: str) -> object:
    return await client.wait_for_job(job_id)


async def op_cancel(client: AsyncClient, job_id: str) -> object:
    return await client.cancel_job(job_id)


async def op_list(client: AsyncClient, job_id: str) -> object:
    return await client.list_jobs()


async def op_languages(client: AsyncClient, job_id: str) -> object:
    return await client.get_languages()


OPERATIONS: dict[str, Operation] = {
    "execute": op_execute,
    "wait": op_wait,
    "cancel": op_cancel,
    "list": op_list,
    "languages": op_languages,
}


def server_for(condition: dict[str, Any]) -> FakeUnsandbox:
    options = {"mode": "job", "default_duration": 0.05, **condition}
    if options.get("latency") == "degraded":
        options["latency"] = LatencyModel.spec_default(scale=0.05, degraded=True, seed=3)
    return FakeUnsandbox(**options)


async def one_run(
    number: int, fault: str, operation: str, faults: list[Fault], condition: dict[str, Any]
) -> Run:
    run = Run(fault, operation)
    loop = asyncio.get_running_loop()
    async with server_for(condition) as fake:
        client = AsyncClient(
            config=fast_config(
                fake,
                retry=RETRY,
                wait_timeout=DEADLINE,
                request_timeout=DEADLINE,
                max_response_bytes=MAX_BYTES,
            ),
            public_key=TEST_PUBLIC_KEY,
            secret_key=TEST_SECRET_KEY,
        )
        async with client:
            target = f"print('run {number}')"
            if operation != "execute":  # the job under test exists before the fault
                busy = bool(condition.get("concurrency_limit"))  # the slot stays taken
                setup = "import time; time.sleep(60)" if busy else f"print('setup {number}')"
                target = await client.execute_async("python", setup)
            for fault_object in faults:
                fake.inject(fault_object)
            started = loop.time()
            try:
                async with asyncio.timeout(GUARD):
                    await OPERATIONS[operation](client, target)
                run.outcome = "ok"
            except TimeoutError as exc:
                run.outcome = (
                    f"typed:{type(exc).__name__}" if isinstance(exc, UnsandboxError) else "hang"
                )
            except UnsandboxError as exc:
                run.outcome = f"typed:{type(exc).__name__}"
            except Exception as exc:  # the failure this test exists to catch
                run.outcome = f"UNTYPED:{type(exc).__module__}.{type(exc).__name__}: {exc}"
            run.elapsed = loop.time() - started
        run.requests = fake.request_count
        per_program = Counter(job.code for job in fake.jobs.values())
        run.duplicates = sum(count - 1 for count in per_program.values())
    return run


def as_list(factory: FaultFactory, match: dict[str, Any]) -> Callable[[], list[Fault]]:
    def build() -> list[Fault]:
        made = factory(**match)
        return made if isinstance(made, list) else [made]

    return build


def plan() -> list[tuple[str, str, Callable[[], list[Fault]], dict[str, Any]]]:
    runs: list[tuple[str, str, Callable[[], list[Fault]], dict[str, Any]]] = []
    for operation in OPERATIONS:
        for name, factory in FAULTS.items():
            for placement, match in PLACEMENTS.items():
                runs.append((f"{name}@{placement}", operation, as_list(factory, match), {}))
        for name, condition in CONDITIONS.items():
            runs.append((name, operation, list, condition))
    return runs


@pytest.mark.slow(reason="350 runs, each with its own fake server and client: ~5 s of CPU")
@pytest.mark.filterwarnings("error")
async def test_fault_matrix(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR, logger="asyncio")
    baseline = asyncio.all_tasks()
    runs: list[Run] = []
    planned = plan()
    batch = 96  # runs at once: enough to overlap their waits, few enough for the fds
    for start in range(0, len(planned), batch):
        chunk = planned[start : start + batch]
        runs += await asyncio.gather(
            *(
                one_run(start + i, fault, op, make_faults(), condition)
                for i, (fault, op, make_faults, condition) in enumerate(chunk)
            )
        )
    for _ in range(3):
        await asyncio.sleep(0)
    leaked = [t for t in asyncio.all_tasks() - baseline if t is not asyncio.current_task()]
    gc.collect()

    outcomes = Counter(run.outcome.split(":")[0] for run in runs)
    untyped = [run for run in runs if run.outcome.startswith("UNTYPED")]
    hangs = [run for run in runs if run.outcome == "hang"]
    late = [run for run in runs if run.elapsed > DEADLINE + SLACK]
    duplicates = sum(run.duplicates for run in runs)
    faults_tried = len(FAULTS) + len(CONDITIONS)
    print(
        f"\nfault matrix: {faults_tried} faults tried ({len(FAULTS)} injected faults x "
        f"{len(PLACEMENTS)} placements + {len(CONDITIONS)} server conditions) x "
        f"{len(OPERATIONS)} operations = {len(runs)} runs; "
        f"{sum(run.requests for run in runs)} requests sent; "
        f"{outcomes['ok']} ok, {outcomes['typed']} typed errors, {len(untyped)} untyped; "
        f"duplicates = {duplicates}; hangs = {len(hangs)}; late = {len(late)}; "
        f"leaked tasks = {len(leaked)}"
    )
    assert untyped == []
    assert hangs == []
    assert late == []
    assert duplicates == 0
    assert leaked == []
    assert not [r for r in caplog.records if "Unclosed" in r.getMessage()]
    # the matrix must actually exercise both paths
    assert outcomes["ok"] > len(runs) // 3
    assert outcomes["typed"] > 20
