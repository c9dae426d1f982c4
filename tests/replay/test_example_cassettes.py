"""The seed's examples run offline from committed cassettes, unmodified, in subprocesses.

Replays use ``UN_ASYNC_BACKEND=replay``, ``UN_ASYNC_RECORD_MODE=none``, no credentials,
an empty ``HOME`` and ``UNSANDBOX_API_URL`` aimed at a closed loopback port, so nothing
could be reached even by mistake. Re-record with
``python scripts/record_examples.py``.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from record_examples import (
    EXAMPLES,
    record_example,
    replay_environ,
    replay_example,
    run_example,
)

EXAMPLES_DIR = Path(__file__).resolve().parents[2] / "examples"
CASSETTES = EXAMPLES_DIR / "cassettes"


def committed_output(name: str) -> str:
    return (CASSETTES / f"{name}.out").read_text(encoding="utf-8")


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


async def test_recording_against_the_fake_and_replaying_give_identical_output(
    tmp_path: Path,
) -> None:
    recorded = await asyncio.gather(
        *(record_example(name, EXAMPLES_DIR, tmp_path) for name in EXAMPLES)
    )
    replayed = await asyncio.gather(
        *(replay_example(name, EXAMPLES_DIR, tmp_path) for name in EXAMPLES)
    )

    assert replayed == recorded
    # The committed cassettes are current: a fresh recording prints exactly the same.
    assert recorded == [committed_output(name) for name in EXAMPLES]
