"""Without ``prlimit``/``setpriv`` the Python launcher confines the program instead: the
same limits and the same unprivileged uid, at every level."""

from __future__ import annotations

import asyncio
import os

import attrs
import pytest

from support.local_backend import ISOLATION, LEVELS
from un_async.backends.local.process import run_program
from un_async.backends.local.sandbox import Step, command
from un_async.backends.local.toolchains import discover_toolchains
from un_async.backends.local.workspace import Workspace

pytestmark = pytest.mark.asyncio(loop_scope="module")

PROBE = (
    "import os, resource\n"
    "print(os.getuid(), resource.getrlimit(resource.RLIMIT_NPROC)[0],"
    " resource.getrlimit(resource.RLIMIT_FSIZE)[0])\n"
)


@pytest.mark.parametrize("level", LEVELS)
async def test_launcher_applies_limits_and_uid(level: str) -> None:
    host = attrs.evolve(ISOLATION.host, prlimit=None, setpriv=None)
    assert not host.native_confinement
    world = level == "none" and host.uid_pool is not None
    chain = discover_toolchains({"PATH": os.environ.get("PATH", "")}, world=world).toolchains[
        "python"
    ]
    uid = host.uid_pool.pick(set()) if host.uid_pool is not None else None
    workspace = Workspace.create(uid, build=False, etc=level == "bubblewrap")
    try:
        rlimits = {"nproc": (40, 40), "fsize": (1 << 20, 1 << 20), "core": (0, 0)}
        step = Step(
            argv=(chain.tools["interpreter"], "-c", PROBE),
            rlimits=rlimits,
            uid=uid,
            share_network=False,
            binds=chain.binds,
            env={"PATH": "/usr/bin:/bin", "HOME": workspace.layout.work},
        )
        outcome = await run_program(
            command(level, host, workspace.layout, step),
            deadline=asyncio.get_running_loop().time() + 20,
            cancel=asyncio.Event(),
            output_limit=4096,
        )
    finally:
        workspace.remove()
    assert outcome.returncode == 0, outcome.stderr.text()
    seen_uid, nproc, fsize = outcome.stdout.text().split()
    assert (nproc, fsize) == ("40", str(1 << 20))
    assert int(seen_uid) == (os.getuid() if uid is None else uid)
