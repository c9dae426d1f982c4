"""Command-line start-up: ``un-async run --backend local hello.py`` against ``python3 hello.py``.

Both run the same one-line program as fresh processes with the same interpreter (the one
running the benchmarks, where ``un-async`` is installed), alternating, after one unmeasured
run of each (bytecode caches warm, as after ``pip install``). The overhead is the median
of the per-pair differences; the goal is at most :data:`OVERHEAD_GOAL_MS`. ``un-async
--help`` is timed too (it imports neither aiohttp nor rich).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

__all__ = ["OVERHEAD_GOAL_MS", "render_cli", "run_cli_startup"]

OVERHEAD_GOAL_MS = 150.0
UN_ASYNC = Path(sys.executable).parent / "un-async"


def _wall_ms(command: list[str], cwd: str, env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, cwd=cwd, env=env, check=True, capture_output=True, timeout=120)
    return (time.perf_counter() - started) * 1000


def run_cli_startup(rounds: int) -> dict[str, Any]:
    """Median wall times (ms) of ``python3 hello.py``, the CLI running it on the local
    backend, and ``un-async --help``, over ``rounds`` alternating rounds."""
    python3 = sys.executable  # the interpreter itself (a ``python3`` on PATH may be a shim)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("UNSANDBOX_", "UN_ASYNC_"))}
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # else the warm-up leaves no bytecode cache
    with tempfile.TemporaryDirectory() as folder:
        Path(folder, "hello.py").write_text('print("hello")\n')
        commands = {
            "python": [python3, "hello.py"],
            "cli": [str(UN_ASYNC), "run", "--backend", "local", "hello.py"],
            "help": [str(UN_ASYNC), "--help"],
        }
        for command in commands.values():
            _wall_ms(command, folder, env)  # warm-up, unmeasured
        samples: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(rounds):
            for name, command in commands.items():
                samples[name].append(_wall_ms(command, folder, env))
    overhead = [cli - py for cli, py in zip(samples["cli"], samples["python"], strict=True)]
    return {
        "rounds": rounds,
        "python_ms": statistics.median(samples["python"]),
        "cli_ms": statistics.median(samples["cli"]),
        "help_ms": statistics.median(samples["help"]),
        "overhead_ms": statistics.median(overhead),
        "goal_ms": OVERHEAD_GOAL_MS,
    }


def render_cli(results: dict[str, Any]) -> str:
    """The report section (empty when the part did not run)."""
    cli = results.get("cli")
    if not cli:
        return ""
    verdict = "PASS" if cli["overhead_ms"] <= cli["goal_ms"] else "MISS"
    return "\n".join(
        [
            "",
            f"### Command line start-up (medians of {cli['rounds']} alternating rounds)",
            "",
            "| command | wall ms |",
            "|---|---|",
            f"| `python3 hello.py` | {cli['python_ms']:.0f} |",
            f"| `un-async run --backend local hello.py` | {cli['cli_ms']:.0f} |",
            f"| `un-async --help` | {cli['help_ms']:.0f} |",
            "",
            f"Overhead of the CLI with the local backend: {cli['overhead_ms']:.0f} ms "
            f"(goal <= {cli['goal_ms']:.0f} ms): {verdict}.",
            "",
        ]
    )
