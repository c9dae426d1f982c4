"""The seed's examples run offline from committed cassettes, unmodified, in subprocesses.

The cassettes hold real runs recorded through the local backend
(``python scripts/record_examples.py``). Replays use ``UN_ASYNC_BACKEND=replay``,
``UN_ASYNC_RECORD_MODE=none``, no credentials, an empty ``HOME`` and
``UNSANDBOX_API_URL`` aimed at a closed loopback port, so nothing could be reached even by
mistake.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from record_examples import (
    EXAMPLES,
    local_languages,
    missing_languages,
    record_example,
    replay_environ,
    replay_example,
    run_example,
)

from un_async.backends.replay import load_cassette

EXAMPLES_DIR = Path(__file__).resolve().parents[2] / "examples"
CASSETTES = EXAMPLES_DIR / "cassettes"
MACHINE_INDEPENDENT = ("hello_world_async", "fibonacci_async", "concurrent_execution")
"""Examples whose output is the same on every machine and every run (the others print
job ids, a job's momentary status or this machine's language count)."""


def committed_output(name: str) -> str:
    return (CASSETTES / f"{name}.out").read_text(encoding="utf-8")


def fib(n: int) -> int:
    a, b = 0, 1
    for _ in range(n):
        a, b = b, a + b
    return a


@pytest.mark.parametrize("name", EXAMPLES)
async def test_an_example_replays_offline_with_the_recorded_output(
    name: str, tmp_path: Path
) -> None:
    env = replay_environ(CASSETTES / f"{name}.json", tmp_path)
    assert not any(key.startswith("UNSANDBOX_") and "KEY" in key for key in env)

    run = await run_example(EXAMPLES_DIR / f"{name}.py", env, tmp_path)

    assert run.returncode == 0, run.stderr
    assert run.stdout == committed_output(name)
    assert run.stderr == ""


@pytest.mark.parametrize("name", EXAMPLES)
def test_the_committed_cassettes_hold_real_local_runs(name: str) -> None:
    cassette = load_cassette(CASSETTES / f"{name}.json")
    assert cassette.backend == {"name": "local", "native_wait": True}
    text = json.dumps([item.to_json() for item in cassette.interactions])
    assert '"isolation"' in text
    assert "canary" not in text


def test_the_fibonacci_cassette_holds_the_real_numbers() -> None:
    assert committed_output("fibonacci_async").splitlines() == [
        f"fib({n}) = {fib(n)}" for n in range(11)
    ]


SLOW_TO_RECORD = pytest.mark.slow(reason="eleven real sandboxed runs, then their replay")


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(name, marks=SLOW_TO_RECORD) if name == "fibonacci_async" else name
        for name in EXAMPLES
    ],
)
async def test_recording_a_real_local_run_and_replaying_it_give_identical_output(
    name: str, tmp_path: Path
) -> None:
    missing = missing_languages(name, await local_languages())
    if missing:
        pytest.skip(f"the local backend cannot run {', '.join(missing)} on this machine")

    recorded = await record_example(name, EXAMPLES_DIR, tmp_path)
    replayed = await replay_example(name, EXAMPLES_DIR, tmp_path)

    assert replayed == recorded
    if name in MACHINE_INDEPENDENT:  # the committed cassette is current
        assert recorded == committed_output(name)
