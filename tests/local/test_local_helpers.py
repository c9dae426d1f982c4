"""The call's ``env=`` reaches the program only, never the helpers that build the sandbox
(``bwrap``, ``unshare``, ``prlimit``, ``setpriv``, ``sh``, ``env``, the launcher — some of
them root): a preloaded library and shell or Python start-up hooks run in the program
itself, at every level, and nowhere else. The helpers also start in ``/``, not in the
work directory, so a relative path given in ``env=`` cannot point them at an input file.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest

from support.local_backend import ISOLATION, LEVELS
from un_async import AsyncClient
from un_async.backends.local.process import run_program
from un_async.backends.local.sandbox import Step, command
from un_async.backends.local.workspace import Workspace

pytestmark = pytest.mark.asyncio(loop_scope="module")

PRELOAD_SOURCE = r"""
#include <stdio.h>
#include <string.h>
#include <unistd.h>

__attribute__((constructor)) static void report(void) {
    char exe[4096] = "?";
    ssize_t size = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (size >= 0) exe[size] = 0;
    dprintf(2, "HOOKED preload exe=%s euid=%d\n", exe, (int)geteuid());
}
"""

BASH_HOOK = 'echo "HOOKED bash_env exe=$BASH euid=$EUID" >&2\n'
PYTHON_HOOK = (
    "import os, sys\n"
    "sys.stderr.write(f\"HOOKED python exe={os.readlink('/proc/self/exe')}"
    ' euid={os.geteuid()}\\n")\n'
)
HOOKS = {
    "LD_PRELOAD": "./hook.so",
    "BASH_ENV": "./hook.sh",
    "ENV": "./hook.sh",
    "PYTHONPATH": ".",
    "PYTHONSTARTUP": "./sitecustomize.py",
    "PYTHONINSPECT": "1",
}
"""Variables that make a program (or a helper, were it given them) run code of ours."""

HOST = ISOLATION.host
HELPERS = {
    os.path.realpath(path)
    for path in (HOST.bwrap, HOST.unshare, HOST.prlimit, HOST.setpriv, HOST.sh, HOST.env)
    if path
} | {os.path.realpath(HOST.python)}
BASH = os.path.realpath(shutil.which("bash") or "/bin/bash")


@pytest.fixture(scope="module")
def preload_library(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """A shared library whose constructor reports which executable loaded it."""
    gcc = shutil.which("gcc") or shutil.which("cc")
    if gcc is None:
        pytest.skip("no C compiler here to build the preloaded library")
    folder = tmp_path_factory.mktemp("preload")
    source = folder / "hook.c"
    source.write_text(PRELOAD_SOURCE)
    library = folder / "hook.so"
    subprocess.run([gcc, "-shared", "-fPIC", "-o", str(library), str(source)], check=True)
    return library.read_bytes()


@pytest.fixture
def library_on_host(preload_library: bytes) -> Iterator[str]:
    """The library at an absolute host path every user may read."""
    folder = tempfile.mkdtemp(prefix="un-async-preload-", dir="/var/tmp")
    try:
        os.chmod(folder, 0o755)  # noqa: S103 - readable by the program's uid
        path = Path(folder, "hook.so")
        path.write_bytes(preload_library)
        path.chmod(0o755)
        yield str(path)
    finally:
        shutil.rmtree(folder)


def hooked(stderr: str) -> list[tuple[str, str]]:
    """``(hook, executable)`` for each hook that ran, as it reported itself."""
    found = []
    for line in stderr.splitlines():
        if line.startswith("HOOKED ") and " exe=" in line:
            kind, rest = line[len("HOOKED ") :].split(" exe=", 1)
            found.append((kind, os.path.realpath(rest.split()[0])))
    return found


async def test_preload_and_hooks_reach_the_program_only(
    local: AsyncClient, level: str, preload_library: bytes
) -> None:
    files = {"hook.so": preload_library, "hook.sh": BASH_HOOK, "sitecustomize.py": PYTHON_HOOK}
    result = await local.execute_code("bash", "echo ran", env=HOOKS, input_files=files)
    assert (result.status, result.stdout) == ("completed", "ran\n"), result.stderr
    seen = hooked(result.stderr)
    # The hooks work: the program itself loaded the library and ran BASH_ENV ...
    assert {("preload", BASH), ("bash_env", BASH)} <= set(seen), result.stderr
    # ... and ran in no helper, inside or outside the sandbox.
    assert not {exe for _, exe in seen} & HELPERS, result.stderr
    assert {exe for _, exe in seen} == {BASH}, result.stderr


async def test_an_absolute_preload_path_reaches_no_helper(
    local: AsyncClient, level: str, library_on_host: str
) -> None:
    result = await local.execute_code("bash", "echo ran", env={"LD_PRELOAD": library_on_host})
    assert (result.status, result.stdout) == ("completed", "ran\n"), result.stderr
    assert {exe for _, exe in hooked(result.stderr)} <= {BASH}, result.stderr


@pytest.mark.parametrize("level", LEVELS)
async def test_the_launcher_gives_the_environment_to_the_program_only(
    level: str, preload_library: bytes
) -> None:
    """Without prlimit/setpriv the Python launcher confines the program: the same holds."""
    host = attrs.evolve(HOST, prlimit=None, setpriv=None)
    assert not host.native_confinement
    uid = host.uid_pool.pick(set()) if host.uid_pool is not None else None
    workspace = Workspace.create(uid, build=False, etc=level == "bubblewrap")
    try:
        workspace.write("hook.so", preload_library)
        step = Step(
            argv=(BASH, "-c", "echo ran"),
            rlimits={"nproc": (64, 64), "core": (0, 0)},
            uid=uid,
            share_network=False,
            env={"LD_PRELOAD": "./hook.so", "PATH": "/usr/bin:/bin"},
        )
        outcome = await run_program(
            command(level, host, workspace.layout, step),
            deadline=asyncio.get_running_loop().time() + 20,
            cancel=asyncio.Event(),
            output_limit=4096,
        )
    finally:
        workspace.remove()
    stderr = outcome.stderr.text()
    assert (outcome.returncode, outcome.stdout.text(), outcome.started) == (0, "ran\n", True)
    assert hooked(stderr) == [("preload", BASH)], stderr


async def test_helpers_start_in_the_root_directory_the_program_in_its_own(
    best: AsyncClient,
) -> None:
    result = await best.execute_code("bash", 'pwd; echo "$HOME"')
    lines = result.stdout.splitlines()
    assert lines[0] == lines[1]
    assert lines[0].endswith("/work")
