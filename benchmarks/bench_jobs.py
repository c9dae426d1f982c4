"""Waiting for many jobs: requests per completed job, completion-to-result delay, memory.

``run_completion``: ``count`` concurrent ``execute_code`` calls against a server whose
request latency and per-language run times follow spec §9.6, everything (server latency,
run times and the client's poll schedule) multiplied by ``scale``. A job's completion
time is when the client received its submit reply plus the run time the server reports
(``execution_time_ms``; the model has no queue phase); the delay is from then to the
result being in the caller's hands. Requests are counted by the server.

``run_memory``: ``waits`` concurrent ``wait_for_job`` calls on long-running jobs;
tracemalloc's peak over a window covering the first polls, minus the traced memory
before the waits started, per wait.

``run_single_wait``: the client CPU of one ``wait_for_job`` (nothing else waiting) of a
job that completes after three polls, with shared and with per-job polling.
"""

from __future__ import annotations

import asyncio
import gc
import statistics
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

from un_async import AsyncClient, ClientConfig, ExecutionResult
from un_async.core.config import POLL_SCHEDULE
from un_async.core.events import ExecutionEvent
from un_async.core.hookspecs import hookimpl
from un_async.core.plugin_host import PluginHost
from un_async.testing import SPEC_DURATIONS, TEST_PUBLIC_KEY, TEST_SECRET_KEY

__all__ = ["SINGLE_WAIT_STEP", "run_completion", "run_memory", "run_single_wait"]

KEYS = {"public_key": TEST_PUBLIC_KEY, "secret_key": TEST_SECRET_KEY}
LANGUAGES = sorted(SPEC_DURATIONS)


class SubmitClock:
    """Observer plugin: when each job's submit reply reached the client."""

    def __init__(self) -> None:
        self.submitted: dict[str, float] = {}

    @hookimpl
    def execution_event(self, event: ExecutionEvent) -> None:
        if event.kind == "submitted" and event.job_id is not None:
            self.submitted[event.job_id] = time.monotonic()


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def run_completion(
    url: str,
    requests_made: Callable[[], int],
    *,
    shared: bool,
    count: int,
    scale: float,
) -> dict[str, Any]:
    """Requests per job and completion-to-result delays (ms, at the benchmark's scale)."""
    clock = SubmitClock()
    host = PluginHost(load_entry_points=False, plugins=[clock])
    config = ClientConfig(
        base_url=url,
        poll_schedule=tuple(step * scale for step in POLL_SCHEDULE),
        shared_polling=shared,
        languages_cache_path=False,
    )
    before = requests_made()
    started = time.perf_counter()
    async with AsyncClient(config=config, plugins=host, **KEYS) as client:

        async def one(index: int) -> tuple[ExecutionResult, float]:
            result = await client.execute_code(LANGUAGES[index % len(LANGUAGES)], "print(1)")
            return result, time.monotonic()

        outcomes = await asyncio.gather(*(one(i) for i in range(count)))
    wall = time.perf_counter() - started
    sent = requests_made() - before
    delays = [
        (in_hand - clock.submitted[result.job_id] - (result.duration_ms or 0) / 1000) * 1000
        for result, in_hand in outcomes
        if result.job_id in clock.submitted
    ]
    return {
        "jobs": count,
        "completed": sum(1 for result, _ in outcomes if result.is_final),
        "requests": sent,
        "requests_per_job": sent / count,
        "delay_median_ms": statistics.median(delays),
        "delay_p90_ms": _percentile(delays, 0.9),
        "delay_median_ms_unscaled": statistics.median(delays) / scale,
        "wall_s": wall,
    }


async def _start_jobs(client: AsyncClient, count: int, concurrency: int = 128) -> list[str]:
    slots = asyncio.Semaphore(concurrency)

    async def start() -> str:
        async with slots:
            return await client.execute_async("python", "print(1)")

    return list(await asyncio.gather(*(start() for _ in range(count))))


async def run_memory(url: str, *, shared: bool, waits: int, window: float) -> dict[str, Any]:
    """Traced bytes per waiting job: peak (and at the end) of ``window`` seconds of waits."""
    config = ClientConfig(base_url=url, shared_polling=shared, languages_cache_path=False)
    async with AsyncClient(config=config, **KEYS) as client:
        job_ids = await _start_jobs(client, waits)
        gc.collect()
        tracemalloc.start()
        try:
            baseline = tracemalloc.get_traced_memory()[0]
            tracemalloc.reset_peak()
            tasks = [
                asyncio.ensure_future(client.wait_for_job(job_id, timeout=None))
                for job_id in job_ids
            ]
            await asyncio.sleep(window)
            current, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        unfinished = sum(1 for task in tasks if not task.done())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return {
        "waits": waits,
        "still_waiting": unfinished,
        "window_s": window,
        "peak_bytes_per_wait": (peak - baseline) / waits,
        "end_bytes_per_wait": (current - baseline) / waits,
    }


SINGLE_WAIT_STEP = 0.04
"""Seconds between polls in ``run_single_wait``; the server's jobs run 2.5 steps."""


async def run_single_wait(
    url: str, requests_made: Callable[[], int], *, waits: int, rounds: int
) -> dict[str, Any]:
    """Client CPU (``time.process_time``) of one ``wait_for_job`` per waiter.

    The schedule is one ``SINGLE_WAIT_STEP`` repeated, without jitter, against a server
    whose jobs run 2.5 steps: the third poll sees the job finished. Each round runs
    ``waits`` waits, one at a time, with each waiter in turn; only the ``wait_for_job``
    calls are timed. Medians over every wait, and polls per wait counted by the server.
    """
    clients = {
        label: AsyncClient(
            config=ClientConfig(
                base_url=url,
                poll_schedule=(SINGLE_WAIT_STEP,),
                poll_jitter=0.0,
                shared_polling=shared,
                languages_cache_path=False,
            ),
            **KEYS,
        )
        for label, shared in (("per_job", False), ("shared", True))
    }
    cpu: dict[str, list[float]] = {label: [] for label in clients}
    polls: dict[str, int] = dict.fromkeys(clients, 0)
    try:
        for client in clients.values():  # warm-up: connections, languages
            await client.wait_for_job(await client.execute_async("python", "print(1)"))
        for _ in range(rounds):
            for label, client in clients.items():
                before = requests_made()
                for _ in range(waits):
                    job_id = await client.execute_async("python", "print(1)")
                    started = time.process_time()
                    await client.wait_for_job(job_id)
                    cpu[label].append(time.process_time() - started)
                polls[label] += requests_made() - before - waits  # minus the submissions
    finally:
        for client in clients.values():
            await client.aclose()
    results: dict[str, Any] = {
        label: {
            "waits": len(samples),
            "cpu_us_median": statistics.median(samples) * 1e6,
            "cpu_us_mean": statistics.fmean(samples) * 1e6,
            "polls_per_wait": polls[label] / len(samples),
        }
        for label, samples in cpu.items()
    }
    results["shared_per_job_cpu"] = (
        results["shared"]["cpu_us_median"] / results["per_job"]["cpu_us_median"]
    )
    return results
