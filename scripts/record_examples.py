"""Maintainer script: record the examples' cassettes from real runs, then check they replay.

    python scripts/record_examples.py [--examples DIR] [--out DIR] [NAME ...]

Each example runs unmodified in a subprocess with ``UN_ASYNC_BACKEND=replay``,
``UN_ASYNC_RECORD_MODE=all`` and ``UN_ASYNC_REPLAY_RECORD_BACKEND=local``: its programs
really run, sandboxed, on this machine through the local backend, so the cassette holds
real outputs (real Fibonacci numbers, real job ids, this machine's language list and
isolation facts). The environment is cleaned of ``UNSANDBOX_*``/``UN_ASYNC_*`` variables,
``HOME`` is an empty directory, and random canary keys are set as
``UNSANDBOX_PUBLIC_KEY``/``UNSANDBOX_SECRET_KEY``: the save-time secret scan refuses any
cassette containing them, and the script refuses an output that does. The cassette is
written to ``<out>/<name>.json`` and the output to ``<out>/<name>.out``.

Every example is then replayed offline — record mode ``none``, no credentials, and
``UNSANDBOX_API_URL`` aimed at a closed loopback port — and its output must be identical;
the exit status is 1 otherwise. An example needing a language the local backend cannot
run here (see :data:`EXAMPLE_LANGUAGES`; ``concurrent_execution`` needs Go) is refused
before anything is recorded: put the toolchain on ``PATH`` first.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

__all__ = [
    "DEAD_URL",
    "EXAMPLES",
    "EXAMPLES_DIR",
    "EXAMPLE_LANGUAGES",
    "ExampleRun",
    "local_languages",
    "missing_languages",
    "record_example",
    "recording_environ",
    "replay_environ",
    "replay_example",
    "run_example",
]

EXAMPLES = (
    "hello_world_async",
    "fibonacci_async",
    "concurrent_execution",
    "async_job_polling",
    "sync_blocking_usage",
)
EXAMPLE_LANGUAGES: Mapping[str, tuple[str, ...]] = {
    "hello_world_async": ("python",),
    "fibonacci_async": ("python",),
    "concurrent_execution": ("python", "javascript", "go"),
    "async_job_polling": ("javascript", "python"),
    "sync_blocking_usage": ("python",),
}
"""The languages each example runs (the local backend must offer them to record it)."""

DEAD_URL = "http://127.0.0.1:9"
"""Where replays point ``UNSANDBOX_API_URL``: loopback, nothing listening."""

RECORD_BACKEND = "local"
RUN_TIMEOUT = 120.0
EXAMPLES_DIR = Path(__file__).resolve().parents[1] / "examples"
"""The repository's ``examples/`` folder (the default of ``--examples``)."""


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


def canary_keys() -> dict[str, str]:
    """Random keys no cassette or output may contain (fresh for every recording)."""
    return {
        "UNSANDBOX_PUBLIC_KEY": f"unsb-pk-canary-{secrets.token_hex(12)}",
        "UNSANDBOX_SECRET_KEY": f"unsb-sk-canary-{secrets.token_hex(12)}",
    }


def recording_environ(
    cassette: Path, home: Path, canaries: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Environment that records ``cassette`` (mode ``all``) through the local backend,
    with ``canaries`` (default: fresh :func:`canary_keys`) as the unsandbox keys."""
    env = _clean_environ(home)
    env.update(canary_keys() if canaries is None else canaries)
    env.update(
        UNSANDBOX_API_URL=DEAD_URL,
        UN_ASYNC_BACKEND="replay",
        UN_ASYNC_CASSETTE=str(cassette),
        UN_ASYNC_RECORD_MODE="all",
        UN_ASYNC_REPLAY_RECORD_BACKEND=RECORD_BACKEND,
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


async def local_languages(environ: Mapping[str, str] | None = None) -> frozenset[str]:
    """The languages the local backend can run here (with ``environ``'s ``PATH``)."""
    from un_async import AsyncClient

    env = dict(os.environ if environ is None else environ)
    async with AsyncClient(backend=RECORD_BACKEND, languages_cache_path=False, environ=env) as c:
        return frozenset(await c.get_languages())


def missing_languages(name: str, available: frozenset[str]) -> list[str]:
    """The languages example ``name`` runs that are not in ``available``."""
    return [language for language in EXAMPLE_LANGUAGES[name] if language not in available]


async def record_example(name: str, examples: Path, out: Path) -> str:
    """Record ``name`` into ``out/<name>.json`` and ``out/<name>.out`` from real local
    runs; return the output."""
    cassette = out / f"{name}.json"
    canaries = canary_keys()
    with tempfile.TemporaryDirectory(prefix="un-async-record-") as tmp:
        home = Path(tmp)
        env = recording_environ(cassette, home, canaries)
        run = await run_example(examples / f"{name}.py", env, home)
    output = run.check(f"recording {name}")
    if any(key in output for key in canaries.values()):
        raise RuntimeError(f"recording {name}: the output contains a canary key")
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
    available = await local_languages()
    lacking = {name: missing_languages(name, available) for name in names}
    lacking = {name: missing for name, missing in lacking.items() if missing}
    if lacking:
        for name, missing in lacking.items():
            print(f"{name}: the local backend cannot run {', '.join(missing)} here")
        print("install the toolchains (on PATH) or name the examples to record")
        return 1
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
