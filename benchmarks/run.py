"""un-async benchmarks: one run, one table.

    python benchmarks/run.py            # full run (several minutes)
    python benchmarks/run.py --quick    # smoke-sized run, under a minute

Starts the fake server (``python -m un_async.testing``) in a separate process for each
part, prints a Markdown report with PASS/MISS per target and writes every number as
JSON (``--json``, default ``benchmarks/results/latest.json``). Parts: ``throughput`` (a, b),
``jobs`` (c), ``memory`` (d), ``replay`` (e), ``imports`` (f), ``single`` (g: one wait
alone), ``execute`` (h: ``execute_code`` with a final reply against a raw signed POST),
``cli`` (``un-async run --backend local hello.py`` against ``python3 hello.py``),
``local`` (the local backend against raw ``asyncio.create_subprocess_exec`` of the same
interpreter, per isolation level); ``--only`` picks some.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import platform
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import attrs
from bench_cli import render_cli, run_cli_startup
from bench_jobs import SINGLE_WAIT_STEP, run_completion, run_memory, run_single_wait
from bench_local import render_local, run_local
from bench_misc import import_times, run_replay
from bench_report import evaluate_targets, render
from bench_server import ServerProcess, TlsFiles
from bench_throughput import run_execute, run_throughput

import un_async

__all__ = ["FULL", "PARTS", "QUICK", "Settings", "main", "run"]

PARTS = ("throughput", "jobs", "memory", "replay", "imports", "single", "execute", "cli", "local")


@attrs.frozen(kw_only=True)
class Settings:
    """Sizes of one run."""

    quick: bool
    concurrencies: tuple[int, ...] = (1, 16, 64, 256)
    execute_concurrencies: tuple[int, ...] = (1, 16, 64)
    seconds: float = 1.5
    warmup: float = 0.3
    rounds: int = 5
    jobs: int = 1000
    jobs_scale: float = 1.0
    memory_waits: int = 10_000
    memory_window: float = 2.5
    memory_per_job: bool = True
    replay_programs: int = 20
    replay_executions: int = 20_000
    replay_concurrency: int = 64
    import_repetitions: int = 21
    cli_rounds: int = 1
    single_waits: int = 30
    single_rounds: int = 4
    local_runs: int = 30
    local_batch: int = 200


FULL = Settings(quick=False, cli_rounds=7)
QUICK = Settings(
    quick=True,
    seconds=0.5,
    warmup=0.1,
    rounds=1,
    jobs_scale=0.25,
    memory_window=1.6,
    memory_per_job=False,
    replay_executions=3000,
    import_repetitions=7,
    cli_rounds=3,
    single_waits=20,
    single_rounds=1,
    local_runs=10,
    local_batch=40,
)


def _machine() -> str:
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} CPUs, {platform.system()} {platform.release()}"


async def _throughput(settings: Settings) -> dict[str, Any]:
    results: dict[str, Any] = {}
    options = {
        "concurrencies": settings.concurrencies,
        "seconds": settings.seconds,
        "warmup": settings.warmup,
        "rounds": settings.rounds,
    }
    with ServerProcess() as server:
        results["http"] = await run_throughput(server, None, **options)
    tls = TlsFiles()
    try:
        with ServerProcess(tls=tls) as server:
            results["https"] = await run_throughput(server, tls.client_context(), **options)
    finally:
        tls.close()
    return results


async def _jobs(settings: Settings) -> dict[str, Any]:
    results: dict[str, Any] = {"count": settings.jobs, "scale": settings.jobs_scale}
    args = ("--mode", "job", "--durations", "spec", "--latency", "spec")
    for label, shared in (("per_job", False), ("shared", True)):
        with ServerProcess(*args, "--scale", f"{settings.jobs_scale:g}", "--seed", "1") as server:
            results[label] = await run_completion(
                server.url,
                lambda server=server: int(server.stats()["requests"]),  # type: ignore[misc]
                shared=shared,
                count=settings.jobs,
                scale=settings.jobs_scale,
            )
    return results


async def _memory(settings: Settings) -> dict[str, Any]:
    results: dict[str, Any] = {"method": "tracemalloc, peak over the window"}
    modes = [("shared", True)] + ([("per_job", False)] if settings.memory_per_job else [])
    for label, shared in modes:
        with ServerProcess("--mode", "job", "--default-duration", "3600") as server:
            results[label] = await run_memory(
                server.url,
                shared=shared,
                waits=settings.memory_waits,
                window=settings.memory_window,
            )
        gc.collect()
    return results


async def _replay(settings: Settings) -> dict[str, Any]:
    with ServerProcess() as server:
        return await run_replay(
            server.url,
            programs=settings.replay_programs,
            executions=settings.replay_executions,
            concurrency=settings.replay_concurrency,
        )


async def _execute(settings: Settings) -> dict[str, Any]:
    with ServerProcess("--mode", "sync") as server:
        return await run_execute(
            server,
            None,
            concurrencies=settings.execute_concurrencies,
            seconds=settings.seconds,
            warmup=settings.warmup,
            rounds=settings.rounds,
        )


async def _single(settings: Settings) -> dict[str, Any]:
    duration = f"{2.5 * SINGLE_WAIT_STEP:g}"
    with ServerProcess("--mode", "job", "--default-duration", duration) as server:
        return await run_single_wait(
            server.url,
            lambda: int(server.stats()["requests"]),
            waits=settings.single_waits,
            rounds=settings.single_rounds,
        )


def run(settings: Settings, parts: Sequence[str] = PARTS, *, log: Any = None) -> dict[str, Any]:
    """Run ``parts`` and return every measurement plus the evaluated targets."""
    results: dict[str, Any] = {
        "meta": {
            "quick": settings.quick,
            "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "machine": _machine(),
            "python": platform.python_version(),
            "aiohttp": aiohttp.__version__,
            "un_async": un_async.__version__,
            "settings": attrs.asdict(settings),
            "throughput": {
                "seconds": settings.seconds,
                "warmup": settings.warmup,
                "rounds": settings.rounds,
            },
        }
    }
    steps = {
        "throughput": lambda: asyncio.run(_throughput(settings)),
        "jobs": lambda: asyncio.run(_jobs(settings)),
        "memory": lambda: asyncio.run(_memory(settings)),
        "replay": lambda: asyncio.run(_replay(settings)),
        "imports": lambda: import_times(settings.import_repetitions),
        "cli": lambda: run_cli_startup(settings.cli_rounds),
        "single": lambda: asyncio.run(_single(settings)),
        "execute": lambda: asyncio.run(_execute(settings)),
        "local": lambda: run_local(runs=settings.local_runs, batch=settings.local_batch),
    }
    for part in parts:
        started = time.perf_counter()
        results[part] = steps[part]()
        gc.collect()
        if log is not None:
            print(
                f"[benchmark] {part}: {time.perf_counter() - started:.1f} s", file=log, flush=True
            )
    results["targets"] = evaluate_targets(results)
    return results


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller, faster run (< 1 min)")
    parser.add_argument(
        "--json",
        type=Path,
        default=Path(__file__).resolve().parent / "results" / "latest.json",
        help="where to write the results (default: benchmarks/results/latest.json)",
    )
    parser.add_argument("--only", default=",".join(PARTS), help=f"comma list of {PARTS}")
    args = parser.parse_args(argv)
    parts = [part.strip() for part in args.only.split(",") if part.strip()]
    unknown = sorted(set(parts) - set(PARTS))
    if unknown:
        parser.error(f"unknown part(s): {', '.join(unknown)}")
    results = run(QUICK if args.quick else FULL, parts, log=sys.stderr)
    report = render(results) + render_cli(results) + render_local(results)
    print(report)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({**results, "report": report}, indent=2) + "\n")
    print(f"\nresults written to {args.json}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
