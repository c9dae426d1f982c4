"""Local backend overhead against a floor: raw ``asyncio.create_subprocess_exec`` of the
same interpreter running the same program (``python -c pass``), in the same run.

* latency: trivial executions one at a time, floor and backend alternating; the added
  latency is the median of the per-pair differences (robust to a machine whose load
  drifts during the run), per isolation level (goal: at most :data:`LATENCY_GOAL_MS` at
  ``bubblewrap``);
* throughput: ``batch`` trivial executions at concurrency 2, backend against floor
  (goal: at least :data:`THROUGHPUT_GOAL` of the floor's rate).

The floor does no isolation, no limits, no workspace: the difference is what the sandbox,
the confinement helpers and the job machinery cost.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import tempfile
import time
from typing import Any

from un_async import AsyncClient
from un_async.backends.local.backend import LocalBackend
from un_async.backends.local.isolation import probe_isolation

__all__ = ["LATENCY_GOAL_MS", "THROUGHPUT_GOAL", "render_local", "run_local"]

LATENCY_GOAL_MS = 25.0
THROUGHPUT_GOAL = 0.6
CONCURRENCY = 2
PROGRAM = "pass"


def _floor_env(home: str) -> dict[str, str]:
    """The environment the backend gives a Python program (so that both start alike)."""
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": home,
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "TMPDIR": home,
        "PYTHONUNBUFFERED": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
    }


async def _floor_once(interpreter: str) -> float:
    started = time.perf_counter()
    process = await asyncio.create_subprocess_exec(
        interpreter,
        "-c",
        PROGRAM,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=_floor_env(tempfile.gettempdir()),
        cwd=tempfile.gettempdir(),
    )
    await process.communicate()
    return time.perf_counter() - started


async def _backend_once(client: AsyncClient) -> float:
    started = time.perf_counter()
    result = await client.execute_code("python", PROGRAM)
    if result.status != "completed":
        raise RuntimeError(f"trivial execution did not complete: {result!r}")
    return time.perf_counter() - started


async def _batch(run: Any, count: int) -> float:
    """Executions per second of ``count`` calls of ``run()``, ``CONCURRENCY`` at a time."""
    slots = asyncio.Semaphore(CONCURRENCY)

    async def one() -> None:
        async with slots:
            await run()

    started = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(count)))
    return count / (time.perf_counter() - started)


async def _level(level: str, runs: int, batch: int) -> dict[str, Any]:
    client = AsyncClient(
        backend="local",
        backend_options={"isolation": level, "concurrency": CONCURRENCY},
        languages_cache_path=False,
    )
    async with client:
        backend = client.executor
        assert isinstance(backend, LocalBackend)
        await client.get_languages()  # the one-time probe, not measured
        interpreter = backend.toolchains["python"].tools["interpreter"]
        await _floor_once(interpreter)
        await _backend_once(client)
        floor: list[float] = []
        local: list[float] = []
        for _ in range(runs):
            floor.append(await _floor_once(interpreter))
            local.append(await _backend_once(client))
        floor_rate = await _batch(lambda: _floor_once(interpreter), batch)
        local_rate = await _batch(lambda: _backend_once(client), batch)
    pairs = [mine - raw for mine, raw in zip(local, floor, strict=True)]
    return {
        "interpreter": interpreter,
        "floor_ms": statistics.median(floor) * 1000,
        "local_ms": statistics.median(local) * 1000,
        "added_ms": statistics.median(pairs) * 1000,
        "floor_per_s": floor_rate,
        "local_per_s": local_rate,
        "throughput_ratio": local_rate / floor_rate,
    }


def run_local(*, runs: int, batch: int) -> dict[str, Any]:
    """Both measurements at every isolation level available here."""
    isolation = probe_isolation(os.environ)
    results: dict[str, Any] = {
        "runs": runs,
        "batch": batch,
        "concurrency": CONCURRENCY,
        "levels_unavailable": dict(isolation.unavailable),
        "latency_goal_ms": LATENCY_GOAL_MS,
        "throughput_goal": THROUGHPUT_GOAL,
        "levels": {},
        "load_average_before": os.getloadavg()[0],
    }
    with tempfile.TemporaryDirectory(prefix="un-async-bench-") as folder:
        os.chmod(folder, 0o711)  # noqa: S103 - the level ``none`` uid must reach its work dir
        saved, tempfile.tempdir = tempfile.tempdir, folder
        try:
            for level in isolation.available:
                results["levels"][level] = asyncio.run(_level(level, runs, batch))
        finally:
            tempfile.tempdir = saved
    results["load_average_after"] = os.getloadavg()[0]
    return results


def render_local(results: dict[str, Any]) -> str:
    """The report section (empty when the part did not run)."""
    local = results.get("local")
    if not local:
        return ""
    lines = [
        "",
        f"### Local backend overhead (`python -c pass`; latency: medians of {local['runs']} "
        f"alternating runs, added = median pair difference; throughput: {local['batch']} "
        f"runs at concurrency {local['concurrency']})",
        "",
        "| level | floor ms | local ms | added ms | floor runs/s | local runs/s | ratio |",
        "|---|---|---|---|---|---|---|",
    ]
    for level, row in local["levels"].items():
        lines.append(
            f"| {level} | {row['floor_ms']:.1f} | {row['local_ms']:.1f} | "
            f"{row['added_ms']:.1f} | {row['floor_per_s']:.1f} | {row['local_per_s']:.1f} | "
            f"{row['throughput_ratio']:.2f} |"
        )
    best = local["levels"].get("bubblewrap")
    if best is None:
        lines += ["", "bubblewrap not available here: the latency goal was not measured."]
    else:
        latency = "PASS" if best["added_ms"] <= local["latency_goal_ms"] else "MISS"
        ratio = "PASS" if best["throughput_ratio"] >= local["throughput_goal"] else "MISS"
        lines += [
            "",
            f"Added latency at bubblewrap: {best['added_ms']:.1f} ms "
            f"(goal <= {local['latency_goal_ms']:.0f} ms): {latency}. "
            f"Throughput at bubblewrap: {best['throughput_ratio']:.2f}x the floor "
            f"(goal >= {local['throughput_goal']}x): {ratio}.",
        ]
    for level, why in local["levels_unavailable"].items():
        lines.append(f"Level {level} unavailable here: {why}.")
    lines.append(
        f"Load average (1 min) {local['load_average_before']:.1f} before, "
        f"{local['load_average_after']:.1f} after: wall-clock figures grow with it."
    )
    return "\n".join(lines) + "\n"
