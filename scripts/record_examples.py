"""Maintainer script: record the examples' cassettes against the fake server, then check
they replay.

    python scripts/record_examples.py [--examples DIR] [--out DIR] [NAME ...]

Each example runs unmodified in a subprocess, with ``UN_ASYNC_BACKEND=replay``,
``UN_ASYNC_RECORD_MODE=all`` and ``UNSANDBOX_API_URL`` pointing at a fresh in-process
:class:`~un_async.testing.FakeUnsandbox` (seeded, so job ids repeat; the fibonacci
programs are scripted to print the real numbers), an empty ``HOME`` and the fake's test
account. Its cassette is written to ``<out>/<name>.json`` and its output to
``<out>/<name>.out``. Every example is then replayed offline — record mode ``none``, no
credentials, and ``UNSANDBOX_API_URL`` aimed at a closed loopback port — and its output
must be identical; the exit status is 1 otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import os
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from un_async.testing import TEST_PUBLIC_KEY, TEST_SECRET_KEY, FakeUnsandbox

__all__ = [
    "DEAD_URL",
    "EXAMPLES",
    "EXAMPLES_DIR",
    "ExampleRun",
    "record_example",
    "recording_environ",
    "replay_environ",
    "replay_example",
    "run_example",
    "script_fake",
]

EXAMPLES = (
    "hello_world_async",
    "fibonacci_async",
    "concurrent_execution",
    "async_job_polling",
    "sync_blocking_usage",
)
DEAD_URL = "http://127.0.0.1:9"
"""Where replays point ``UNSANDBOX_API_URL``: loopback, nothing listening."""

RUN_TIMEOUT = 60.0
EXAMPLES_DIR = Path(__file__).resolve().parents[1] / "examples"
"""The repository's ``examples/`` folder (the default of ``--examples``)."""

FAKE_SETTINGS: dict[str, dict[str, Any]] = {
    # Every execution answers with a job, so waits poll (and replay collapses them).
    "concurrent_execution": {"mode": "job"},
    # Jobs stay pending, then run, so the polls record pending -> running -> completed.
    "async_job_polling": {"queue_delay": 0.1, "default_duration": 0.4},
}
"""Fake-server settings per example (default: answer finished executions at once)."""


class ExampleRun:
    """The outcome of running one example: exit status and decoded output."""

    def __init__(self, returncode: int, stdout: str, stderr: str) -> None:
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr

    def check(self, what: str) -> str:
        """The output; raises ``RuntimeError`` with stderr when the example failed."""
        if self.returncode != 0:
            raise RuntimeError(f"{what} exited with {self.returncode}:\n{self.stderr}")
        return self.stdout


def _clean_environ(home: Path) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("UNSANDBOX_", "UN_ASYNC_"))
    }
    env["HOME"] = str(home)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def recording_environ(cassette: Path, url: str, home: Path) -> dict[str, str]:
    """Environment that records ``cassette`` (mode ``all``) against the server at ``url``."""
    env = _clean_environ(home)
    env.update(
        UNSANDBOX_API_URL=url,
        UNSANDBOX_PUBLIC_KEY=TEST_PUBLIC_KEY,
        UNSANDBOX_SECRET_KEY=TEST_SECRET_KEY,
        UN_ASYNC_BACKEND="replay",
        UN_ASYNC_CASSETTE=str(cassette),
        UN_ASYNC_RECORD_MODE="all",
    )
    return env


def replay_environ(cassette: Path, home: Path, *, url: str = DEAD_URL) -> dict[str, str]:
    """Environment that replays ``cassette`` offline: mode ``none``, no credentials."""
    env = _clean_environ(home)
    env.update(
        UNSANDBOX_API_URL=url,
        UN_ASYNC_BACKEND="replay",
        UN_ASYNC_CASSETTE=str(cassette),
        UN_ASYNC_RECORD_MODE="none",
    )
    return env


async def run_example(script: Path, env: Mapping[str, str], cwd: Path) -> ExampleRun:
    """Run ``script`` with this interpreter and capture its output."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(script),
        env=dict(env),
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with asyncio.timeout(RUN_TIMEOUT):
            out, err = await process.communicate()
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    assert process.returncode is not None
    return ExampleRun(process.returncode, out.decode(), err.decode())


def _fib(n: int) -> int:
    a, b = 0, 1
    for _ in range(n):
        a, b = b, a + b
    return a


def script_fake(name: str, fake: FakeUnsandbox, examples: Path) -> None:
    """Script ``fake`` so ``name``'s outputs are meaningful (the fake runs no code)."""
    if name != "fibonacci_async":
        return
    spec = importlib.util.spec_from_file_location("_fibonacci_example", examples / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for n in range(11):
        fake.script("python", module.fib_program(n), stdout=f"{_fib(n)}\n")


async def record_example(name: str, examples: Path, out: Path) -> str:
    """Record ``name`` into ``out/<name>.json`` and ``out/<name>.out``; return the output."""
    cassette = out / f"{name}.json"
    with tempfile.TemporaryDirectory(prefix="un-async-record-") as tmp:
        home = Path(tmp)
        settings = FAKE_SETTINGS.get(name, {})
        async with FakeUnsandbox(seed=0, record_requests=False, **settings) as fake:
            script_fake(name, fake, examples)
            run = await run_example(
                examples / f"{name}.py", recording_environ(cassette, fake.url, home), home
            )
    output = run.check(f"recording {name}")
    (out / f"{name}.out").write_text(output, encoding="utf-8")
    return output


async def replay_example(name: str, examples: Path, cassettes: Path) -> str:
    """Run ``name`` offline from ``cassettes/<name>.json`` and return its output."""
    with tempfile.TemporaryDirectory(prefix="un-async-replay-") as tmp:
        home = Path(tmp)
        env = replay_environ(cassettes / f"{name}.json", home)
        run = await run_example(examples / f"{name}.py", env, home)
    return run.check(f"replaying {name}")


async def _main(names: Sequence[str], examples: Path, out: Path) -> int:
    failures = 0
    for name in names:
        recorded = await record_example(name, examples, out)
        replayed = await replay_example(name, examples, out)
        same = recorded == replayed
        failures += not same
        print(
            f"{name}: recorded {out / (name + '.json')}; replay {'matches' if same else 'DIFFERS'}"
        )
    return 1 if failures else 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit status."""
    parser = argparse.ArgumentParser(prog="python scripts/record_examples.py")
    parser.add_argument("names", nargs="*", metavar="NAME", help=f"default: {', '.join(EXAMPLES)}")
    parser.add_argument("--examples", type=Path, default=EXAMPLES_DIR)
    parser.add_argument("--out", type=Path, default=None, help="default: <examples>/cassettes")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.names) - set(EXAMPLES))
    if unknown:
        parser.error(f"unknown example(s): {', '.join(unknown)}")
    examples = args.examples.resolve()
    out = (args.out or examples / "cassettes").resolve()
    out.mkdir(parents=True, exist_ok=True)
    return asyncio.run(_main(args.names or EXAMPLES, examples, out))


if __name__ == "__main__":
    sys.exit(main())
