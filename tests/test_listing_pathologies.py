"""A job listing that misreports jobs costs shared polling a bounded delay, never a hang.

Each scenario gives the fake's ``GET /jobs`` one pathology (:mod:`un_async.testing.listing`)
and checks that every wait ends within what per-job polling needs after the job finished
(one longest delay, jittered) plus ``confirm_every`` (the bound on trusting the listing),
and that a listing caught contradicting the jobs' own replies, or too big, is turned off
for the account with one log line.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator
from typing import Any

import pytest

from support import KEYS
from un_async import AsyncClient, ClientConfig, ExecutionResult, JobStatus
from un_async.core.shared_polling import (
    CONFIRM_FACTOR,
    MAX_LISTING_ENTRIES,
    MAX_LISTINGS,
    SharedPollingWaiter,
)
from un_async.testing import FakeUnsandbox
from un_async.testing.listing import ListingPathology, listing_entries

FAST = (0.02, 0.03, 0.05)
JITTER = 0.1
CONFIRM = CONFIRM_FACTOR * max(FAST)
"""The waiter's default ``confirm_every`` for this schedule (0.2 s)."""
SLACK = 0.25
"""Scheduling and request latency on a loaded machine."""
PER_JOB = (1 + JITTER) * max(FAST) + SLACK
"""After a job finished, per-job polling has its result within this many seconds."""
BOUND = PER_JOB + CONFIRM
WARNING = "job listing of account"


@pytest.fixture
async def fake() -> AsyncIterator[FakeUnsandbox]:
    async with FakeUnsandbox(mode="job") as server:
        yield server


@pytest.fixture
async def client(fake: FakeUnsandbox) -> AsyncIterator[AsyncClient]:
    config = ClientConfig(
        base_url=fake.url,
        poll_schedule=FAST,
        poll_jitter=JITTER,
        wait_timeout=5.0,
        languages_cache_path=False,
    )
    async with AsyncClient(config=config, **KEYS) as instance:
        assert isinstance(instance._lifecycle.waiter, SharedPollingWaiter)
        assert instance._lifecycle.waiter.confirm_every == pytest.approx(CONFIRM)
        yield instance


def script(fake: FakeUnsandbox, durations: list[float]) -> list[str]:
    """One program per duration; the codes to run."""
    codes = []
    for index, duration in enumerate(durations):
        code = f"job {index}"
        fake.script("python", code, stdout=f"{index}\n", duration=duration)
        codes.append(code)
    return codes


async def timed(
    fake: FakeUnsandbox, waits: list[asyncio.Future[ExecutionResult]]
) -> list[tuple[ExecutionResult, float]]:
    """Each result and how long after its job finished on the server it arrived."""
    loop = asyncio.get_running_loop()

    async def one(wait: asyncio.Future[ExecutionResult]) -> tuple[ExecutionResult, float]:
        result = await wait
        return result, loop.time() - fake.jobs[result.job_id].end  # one clock: monotonic

    return await asyncio.gather(*(one(wait) for wait in waits))


async def execute_all(
    client: AsyncClient, fake: FakeUnsandbox, codes: list[str]
) -> list[tuple[ExecutionResult, float]]:
    """``execute_code`` of every code, gathered."""
    calls = [asyncio.ensure_future(client.execute_code("python", code)) for code in codes]
    return await timed(fake, calls)


async def wait_all(
    client: AsyncClient, fake: FakeUnsandbox, job_ids: list[str]
) -> list[tuple[ExecutionResult, float]]:
    return await timed(fake, [asyncio.ensure_future(client.wait_for_job(j)) for j in job_ids])


def check(outcomes: list[tuple[ExecutionResult, float]], codes: list[str], bound: float) -> None:
    assert [result.stdout for result, _ in outcomes] == [f"{i}\n" for i in range(len(codes))]
    assert {result.status for result, _ in outcomes} == {JobStatus.COMPLETED}
    late = max(delay for _, delay in outcomes)
    assert late <= bound, f"a result came {late:.3f} s after its job finished (bound {bound})"


def warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.getMessage().startswith(WARNING)]


async def listing_stays_off(client: AsyncClient, fake: FakeUnsandbox) -> None:
    """Later concurrent waits of the account poll one by one: no ``GET /jobs`` at all."""
    fake.reset_stats()
    codes = script(fake, [0.1, 0.15, 0.2])
    outcomes = await execute_all(client, fake, codes)
    check(outcomes, codes, PER_JOB)
    assert fake.count_requests("GET", "/jobs") == 0
    assert fake.count_requests("GET", "/jobs/") > 0


# -- each pathology -------------------------------------------------------------------------


async def test_listing_that_never_shows_jobs_finished(
    client: AsyncClient, fake: FakeUnsandbox, caplog: pytest.LogCaptureFixture
) -> None:
    """The issue's case: 20 gathered calls against a listing stuck at ``running``."""
    fake.listing = ListingPathology(stale_for=math.inf)
    codes = script(fake, [0.05 + 0.03 * i for i in range(20)])
    check(await execute_all(client, fake, codes), codes, BOUND)
    # Jobs resolved by their own confirmation were then listed as running: detected.
    assert len(warnings(caplog)) == 1
    assert "finished job as still running" in warnings(caplog)[0]
    await listing_stays_off(client, fake)
    assert len(warnings(caplog)) == 1


async def test_listing_stale_for_a_while(
    client: AsyncClient, fake: FakeUnsandbox, caplog: pytest.LogCaptureFixture
) -> None:
    fake.listing = ListingPathology(stale_for=0.5)
    codes = script(fake, [0.05 + 0.05 * i for i in range(8)])
    check(await execute_all(client, fake, codes), codes, BOUND)
    assert len(warnings(caplog)) == 1


async def test_listing_truncated_to_the_newest(
    client: AsyncClient, fake: FakeUnsandbox, caplog: pytest.LogCaptureFixture
) -> None:
    fake.listing = ListingPathology(newest=2)
    codes = script(fake, [0.4 + 0.02 * i for i in range(8)])
    job_ids = [await client.execute_async("python", code) for code in codes]
    # The older jobs are not listed: polled on their own, so per-job timing holds.
    check(await wait_all(client, fake, job_ids), codes, BOUND)
    [warning] = warnings(caplog)
    assert "omitted a job that was running" in warning
    await listing_stays_off(client, fake)


async def test_listing_omitting_some_jobs(
    client: AsyncClient, fake: FakeUnsandbox, caplog: pytest.LogCaptureFixture
) -> None:
    codes = script(fake, [0.3 + 0.02 * i for i in range(6)])
    job_ids = [await client.execute_async("python", code) for code in codes]
    fake.listing = ListingPathology(omit=job_ids[::2])
    check(await wait_all(client, fake, job_ids), codes, BOUND)
    [warning] = warnings(caplog)
    assert "omitted a job that was running" in warning
    await listing_stays_off(client, fake)


async def test_listing_with_a_huge_history(
    client: AsyncClient, fake: FakeUnsandbox, caplog: pytest.LogCaptureFixture
) -> None:
    fake.listing = ListingPathology(history=MAX_LISTING_ENTRIES)  # plus the real jobs
    codes = script(fake, [0.1 + 0.02 * i for i in range(5)])
    check(await execute_all(client, fake, codes), codes, BOUND)
    # The first listing (with one more in flight at most) turned listing off.
    assert 1 <= fake.count_requests("GET", "/jobs") <= MAX_LISTINGS
    [warning] = warnings(caplog)
    assert f"more than {MAX_LISTING_ENTRIES}" in warning
    await listing_stays_off(client, fake)


async def test_honest_listing_is_kept_and_confirmed_by_own_polls(
    client: AsyncClient, fake: FakeUnsandbox, caplog: pytest.LogCaptureFixture
) -> None:
    """Every waiting job gets its own lookup at least every ``confirm_every`` seconds
    (plus a tick), and nothing is turned off."""
    duration = 0.9
    codes = script(fake, [duration] * 4)
    loop = asyncio.get_running_loop()
    job_ids = [await client.execute_async("python", code) for code in codes]
    started = loop.time()
    check(await wait_all(client, fake, job_ids), codes, PER_JOB)
    assert warnings(caplog) == []
    for job_id in job_ids:
        lookups = [
            r.time for r in fake.requests if r.method == "GET" and r.path == f"/jobs/{job_id}"
        ]
        gaps = [b - a for a, b in zip([started, *lookups], lookups, strict=False)]
        assert max(gaps) <= CONFIRM + PER_JOB, gaps
        # ...and no more: one confirmation per confirm_every, plus the final read.
        assert len(lookups) <= duration / CONFIRM + 2, lookups
    assert fake.count_requests("GET", "/jobs") >= duration / max(FAST)


# -- the fake's knobs -----------------------------------------------------------------------


async def test_listing_entries_apply_each_knob(fake: FakeUnsandbox, client: AsyncClient) -> None:
    codes = script(fake, [0.0, 0.0, 60.0])
    job_ids = [await client.execute_async("python", code) for code in codes]
    now = fake.lifecycle_now()
    jobs = list(fake.jobs.values())

    def statuses(**knobs: Any) -> list[tuple[str, str]]:
        entries = listing_entries(jobs, now, ListingPathology(**knobs))
        return [(entry["job_id"], entry["status"]) for entry in entries]

    honest = [(job_ids[0], "completed"), (job_ids[1], "completed"), (job_ids[2], "running")]
    assert statuses() == honest
    assert statuses(stale_for=math.inf) == [(j, "running") for j in job_ids]
    assert statuses(stale_for=3600)[0] == (job_ids[0], "running")
    assert statuses(newest=2) == honest[1:]
    assert statuses(newest=0) == []
    assert statuses(omit={job_ids[1]}) == [honest[0], honest[2]]
    history = statuses(history=3)
    assert history[3:] == honest
    assert {status for _, status in history[:3]} == {"completed"}
    assert len({job_id for job_id, _ in history}) == 6
    assert statuses(history=3, newest=4) == history[2:]
    stale = listing_entries(jobs, now, ListingPathology(stale_for=math.inf))[0]
    assert "completed_at" not in stale  # a stale entry looks like a running one
    # The server serves the same entries.
    fake.listing = ListingPathology(omit={job_ids[0]}, stale_for=math.inf)
    listed = await client.list_jobs()
    assert [(job.job_id, job.status) for job in listed] == [
        (job_ids[1], JobStatus.RUNNING),
        (job_ids[2], JobStatus.RUNNING),
    ]


@pytest.mark.parametrize(
    "knobs", [{"stale_for": -1.0}, {"newest": -1}, {"history": -1}, {"stale_for": math.nan}]
)
def test_listing_knobs_are_checked(knobs: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="must be"):
        ListingPathology(**knobs)
