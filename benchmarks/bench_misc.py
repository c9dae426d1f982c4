"""Replay backend speed and import time."""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import time
from typing import Any

from un_async import AsyncClient, ClientConfig
from un_async.backends.replay import RecordingExecutor, ReplayExecutor
from un_async.backends.unsandbox import UnsandboxBackend
from un_async.core.plugin_host import default_host
from un_async.testing import TEST_PUBLIC_KEY, TEST_SECRET_KEY

__all__ = ["import_times", "run_replay"]

KEYS = {"public_key": TEST_PUBLIC_KEY, "secret_key": TEST_SECRET_KEY}


async def run_replay(
    url: str, *, programs: int, executions: int, concurrency: int
) -> dict[str, Any]:
    """Record ``programs`` executions against the fake server, then replay ``executions``
    of them (latency ``none``, ``concurrency`` at a time) and time the replay. Errors
    propagate: a broken replay backend fails the benchmark run (and its smoke test)."""
    config = ClientConfig(base_url=url, languages_cache_path=False)
    recorder = RecordingExecutor(
        UnsandboxBackend(config, default_host()), None, save_on_close=False
    )
    codes = [f"print({i})" for i in range(programs)]
    async with AsyncClient(backend=recorder, languages_cache_path=False, **KEYS) as client:
        for code in codes:
            await client.execute_code("python", code)
    replay = ReplayExecutor(recorder.cassette, latency="none", repeat=True)
    async with AsyncClient(backend=replay, languages_cache_path=False, **KEYS) as client:
        slots = asyncio.Semaphore(concurrency)

        async def one(index: int) -> None:
            async with slots:
                await client.execute_code("python", codes[index % programs])

        started = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(executions)))
        wall = time.perf_counter() - started
    return {
        "available": True,
        "executions": executions,
        "concurrency": concurrency,
        "executions_per_s": executions / wall,
    }


def _import_ms(module: str, env: dict[str, str]) -> float:
    code = (
        "import time; t = time.perf_counter(); "
        f"import {module}; print((time.perf_counter() - t) * 1000)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        env=env,
    )
    return float(done.stdout.strip())


def import_times(repetitions: int) -> dict[str, Any]:
    """``import aiohttp`` and ``import un_async`` in fresh interpreters, alternating, with
    bytecode caches present (as after ``pip install``; a first unmeasured import writes
    them even when ``PYTHONDONTWRITEBYTECODE`` is set here). The difference is the median
    of the per-pair differences."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    samples: dict[str, list[float]] = {"aiohttp": [], "un_async": []}
    for module in samples:
        _import_ms(module, env)
    for _ in range(repetitions):
        for module, values in samples.items():
            values.append(_import_ms(module, env))
    pairs = zip(samples["un_async"], samples["aiohttp"], strict=True)
    return {
        "repetitions": repetitions,
        "aiohttp_ms": statistics.median(samples["aiohttp"]),
        "un_async_ms": statistics.median(samples["un_async"]),
        "aiohttp_min_ms": min(samples["aiohttp"]),
        "un_async_min_ms": min(samples["un_async"]),
        "delta_ms": statistics.median(ours - theirs for ours, theirs in pairs),
    }
