"""Python programs run in a subprocess against the fake server with the test account."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Mapping
from pathlib import Path

from un_async.testing import TEST_PUBLIC_KEY, TEST_SECRET_KEY, FakeUnsandbox

__all__ = ["run_python", "run_python_cleanly"]


async def run_python(
    fake: FakeUnsandbox, *args: str, cwd: Path, env: Mapping[str, str] | None = None
) -> tuple[int, str, str]:
    """Run ``python -W error *args`` against ``fake`` with the test account's keys.

    The environment is this process's plus ``env``; the result is the exit code and
    the decoded stdout and stderr.
    """
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-W",
        "error",
        *args,
        env={
            **os.environ,
            **(env or {}),
            "UNSANDBOX_API_URL": fake.url,
            "UNSANDBOX_PUBLIC_KEY": TEST_PUBLIC_KEY,
            "UNSANDBOX_SECRET_KEY": TEST_SECRET_KEY,
        },
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await process.communicate()
    assert process.returncode is not None
    return process.returncode, stdout.decode(), stderr.decode()


async def run_python_cleanly(
    fake: FakeUnsandbox, *args: str, cwd: Path, env: Mapping[str, str] | None = None
) -> str:
    """:func:`run_python`, checking that it printed nothing on stderr and exited 0; its
    stdout."""
    returncode, stdout, stderr = await run_python(fake, *args, cwd=cwd, env=env)
    assert stderr == "", stderr
    assert returncode == 0
    return stdout
