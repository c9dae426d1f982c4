"""A program cannot fake the backend's verdicts: ``sandbox`` comes from a pipe the program
never holds (the sandbox reporting itself set up), so a program that writes a helper's
error message and exits as a helper would is an ordinary failure; ``memory`` is claimed
only when the runtime's report comes with an ending such a failure has. A real sandbox
failure is still reported as one, at every level."""

from __future__ import annotations

import asyncio
import shlex

import pytest

from support.local_backend import ISOLATION, LEVELS
from un_async import AsyncClient
from un_async.backends.local.process import run_program
from un_async.backends.local.sandbox import Step, command
from un_async.backends.local.verdict import judge
from un_async.backends.local.workspace import Workspace

pytestmark = pytest.mark.asyncio(loop_scope="module")

FAKES = [
    ("bwrap: Can't mount proc on /newroot/proc: Operation not permitted", 1),
    ("un-async-launcher: mount /home: Permission denied", 125),
    ("setpriv: failed to execute python3: No such file or directory", 127),
    ("un-async-exec: cannot execute /usr/bin/python3", 125),
    ("prlimit: failed to set the RLIMIT_AS resource limit", 126),
]


@pytest.mark.parametrize(("message", "code"), FAKES)
async def test_a_program_cannot_fake_a_sandbox_failure(
    local: AsyncClient, message: str, code: int
) -> None:
    result = await local.execute_code("bash", f"echo {shlex.quote(message)} >&2\nexit {code}\n")
    assert (result.status, result.reason, result.exit_code) == ("failed", "exit", code)
    assert result.stderr == f"{message}\n"


async def test_a_printed_memory_error_with_another_ending_is_not_memory(
    local: AsyncClient,
) -> None:
    code = (
        "import os, signal, sys\n"
        "sys.stderr.write('Traceback (most recent call last):\\nMemoryError\\n')\n"
        "sys.stderr.flush()\n"
        "os.kill(os.getpid(), signal.SIGUSR1)\n"
    )
    result = await local.execute_code("python", code)
    assert (result.status, result.reason, result.exit_code) == ("failed", "signal", 138)


async def test_a_printed_memory_error_with_exit_zero_completes(local: AsyncClient) -> None:
    result = await local.execute_code("python", "import sys; sys.stderr.write('MemoryError\\n')")
    assert (result.status, result.reason) == ("completed", None)


@pytest.mark.parametrize("level", LEVELS)
async def test_a_real_sandbox_failure_is_reported_as_one(level: str) -> None:
    """The program to start does not exist: the sandbox never reports itself set up."""
    host = ISOLATION.host
    uid = host.uid_pool.pick(set()) if host.uid_pool is not None else None
    workspace = Workspace.create(uid, build=False, etc=level == "bubblewrap")
    try:
        step = Step(
            argv=("/nonexistent/un-async/program",),
            rlimits={"nproc": (64, 64), "core": (0, 0)},
            uid=uid,
            share_network=False,
        )
        outcome = await run_program(
            command(level, host, workspace.layout, step),
            deadline=asyncio.get_running_loop().time() + 20,
            cancel=asyncio.Event(),
            output_limit=4096,
        )
    finally:
        workspace.remove()
    assert not outcome.started
    verdict = judge(
        outcome, compiling=False, exact_signals=level == "none", oom_markers=(), limits_text=""
    )
    assert (verdict.status, verdict.reason, verdict.exit_code) == ("failed", "sandbox", None)
    assert verdict.error is not None
    assert "/nonexistent/un-async/program" in verdict.error


async def test_a_program_that_ran_reports_started(best: AsyncClient) -> None:
    """The ordinary path: set up, then the program's own exit decides."""
    result = await best.execute_code("bash", "exit 3")
    assert (result.status, result.reason, result.exit_code) == ("failed", "exit", 3)
