"""The program never holds a privilege, at any level and whichever helper confined it:
``no_new_privs`` is set, every capability set is empty (the bounding set too, wherever
the backend could drop it), a setuid-root binary does not make it root, and — when the
SDK runs as an ordinary user, where ``namespaces`` makes the program root of its own user
namespace — it cannot unmount what hides the home directory."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest

from support.local_backend import ISOLATION, LEVELS, SECRET_VALUE, skip_below
from un_async import AsyncClient
from un_async.backends.local.process import run_program
from un_async.backends.local.sandbox import Step, command
from un_async.backends.local.toolchains import discover_toolchains, world_reachable
from un_async.backends.local.workspace import Workspace

pytestmark = pytest.mark.asyncio(loop_scope="module")

STATUS = (
    "import json\n"
    "fields = dict(line.split(':', 1) for line in open('/proc/self/status') if ':' in line)\n"
    "print(json.dumps({k: fields[k].strip() for k in"
    " ('NoNewPrivs', 'CapInh', 'CapPrm', 'CapEff', 'CapBnd', 'CapAmb')}))\n"
)
EUID_SOURCE = (
    "#include <stdio.h>\n#include <unistd.h>\n"
    'int main(void) { printf("%d\\n", (int)geteuid()); return 0; }\n'
)
HOST_DIRS = ("/srv", "/opt", "/var/cache")
"""Where a test may make a directory that the program sees at ``namespaces`` and ``none``
(not under the private /tmp, /var/tmp, /dev/shm, /run or a home directory)."""


def assert_unprivileged(fields: dict[str, str], *, bounding: bool) -> None:
    assert fields["NoNewPrivs"] == "1"
    for name in ("CapInh", "CapPrm", "CapEff", "CapAmb"):
        assert int(fields[name], 16) == 0, (name, fields)
    if bounding:
        assert int(fields["CapBnd"], 16) == 0, fields


async def test_no_privileges_at_any_level(local: AsyncClient, level: str) -> None:
    result = await local.execute_code("python", STATUS)
    assert result.status == "completed", result.stderr
    assert_unprivileged(json.loads(result.stdout), bounding=True)


@pytest.mark.parametrize("level", LEVELS)
async def test_no_privileges_through_the_launcher(level: str) -> None:
    """Without prlimit/setpriv the Python launcher confines the program: the same holds."""
    host = attrs.evolve(ISOLATION.host, prlimit=None, setpriv=None)
    assert not host.native_confinement
    world = level == "none" and host.uid_pool is not None
    environ = {"PATH": os.environ.get("PATH", os.defpath)}
    chain = discover_toolchains(environ, world=world).toolchains["python"]
    uid = host.uid_pool.pick(set()) if host.uid_pool is not None else None
    workspace = Workspace.create(uid, build=False, etc=level == "bubblewrap")
    try:
        step = Step(
            argv=(chain.tools["interpreter"], "-c", STATUS),
            rlimits={"nproc": (64, 64), "core": (0, 0)},
            uid=uid,
            share_network=False,
            binds=chain.binds,
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
    privileged = host.is_root or level != "none"
    assert_unprivileged(json.loads(outcome.stdout.text()), bounding=privileged)


@pytest.fixture(scope="module")
def setuid_root_program() -> Iterator[str]:
    """A setuid-root program printing its effective uid, where the program can see it
    at the ``namespaces`` and ``none`` levels."""
    gcc = shutil.which("gcc") or shutil.which("cc")
    if os.geteuid() != 0 or gcc is None:
        pytest.skip("making a setuid-root program needs root and a C compiler")
    base = next((d for d in HOST_DIRS if os.path.isdir(d) and os.access(d, os.W_OK)), None)
    if base is None:
        pytest.skip(f"no writable directory among {HOST_DIRS} for the setuid program")
    folder = tempfile.mkdtemp(prefix="un-async-setuid-", dir=base)
    try:
        os.chmod(folder, 0o755)  # noqa: S103 - the program's uid must reach it
        source = Path(folder, "euid.c")
        source.write_text(EUID_SOURCE)
        program = Path(folder, "euid")
        subprocess.run([gcc, "-o", str(program), str(source)], check=True)
        os.chown(program, 0, 0)
        program.chmod(0o4755)
        done = subprocess.run(
            ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", str(program)],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.stdout.strip() != "0":
            pytest.skip(f"setuid does not take effect in {base} here (nosuid?)")
        yield str(program)
    finally:
        shutil.rmtree(folder)


async def test_a_setuid_root_program_does_not_make_it_root(
    local: AsyncClient, level: str, setuid_root_program: str
) -> None:
    skip_below(
        level,
        ("namespaces", "none"),
        "to show host binaries (only /usr and the toolchain are visible; no_new_privs is"
        " checked above)",
    )
    result = await local.execute_code("bash", f"{setuid_root_program}\nid -u\n")
    assert result.status == "completed", result.stderr
    euid, uid = result.stdout.split()
    assert euid == uid != "0"


# -- as an ordinary user ---------------------------------------------------------------------

UNPRIVILEGED = 65534
NON_ROOT_RUN = """
import asyncio, json, os, sys
from un_async import AsyncClient
from un_async.core.errors import ConfigurationError

home, level, code = sys.argv[1:4]

async def main():
    environ = {"PATH": os.environ["PATH"], "HOME": home}
    options = {"isolation": level, "probe_cache": False}
    try:
        async with AsyncClient(backend="local", backend_options=options, environ=environ) as c:
            result = await c.execute_code("python", code)
    except ConfigurationError as exc:
        print(json.dumps({"unavailable": str(exc)}))
        return
    print(json.dumps({"status": result.status, "stdout": result.stdout,
                      "stderr": result.stderr, "warnings": result.isolation["warnings"]}))

asyncio.run(main())
"""

UNDO_HIDING = """
import ctypes, json, os, sys
libc = ctypes.CDLL(None, use_errno=True)
home = HOME
def read():
    try:
        return open(os.path.join(home, "secret.txt")).read()
    except OSError as exc:
        return f"unreadable errno {exc.errno}"
def umount():
    return {flags: 0 if libc.umount2(home.encode(), flags) == 0 else ctypes.get_errno()
            for flags in (0, 2)}
fields = dict(line.split(":", 1) for line in open("/proc/self/status") if ":" in line)
seen = {"status": {k: v.strip() for k, v in fields.items() if k.startswith(("Cap", "NoNew"))}}
seen.update(umount=umount(), secret=read())
if libc.unshare(0x10000000 | 0x20000) == 0:  # a user and mount namespace of its own
    seen["nested_umount"] = umount()
    seen["nested_secret"] = read()
print(json.dumps(seen))
"""


@pytest.fixture(scope="module")
def ordinary_user_home() -> Iterator[str]:
    """A home directory, with a secret, of an ordinary user the SDK then runs as, where
    unhiding it would show it (not under the private /tmp)."""
    if os.geteuid() != 0:
        pytest.skip("runs the SDK as another, ordinary user: needs root (run as that user)")
    base = next((d for d in HOST_DIRS if os.path.isdir(d) and os.access(d, os.W_OK)), None)
    if base is None:
        pytest.skip(f"no writable directory among {HOST_DIRS} for the user's home")
    folder = tempfile.mkdtemp(prefix="un-async-user-", dir=base)
    try:
        os.chmod(folder, 0o755)  # noqa: S103 - the user must reach its home
        home, tmp = Path(folder, "home"), Path(folder, "tmp")
        home.mkdir(mode=0o700)
        tmp.mkdir(mode=0o755)
        (home / "secret.txt").write_text(SECRET_VALUE)
        for path in (home, home / "secret.txt", tmp):
            os.chown(path, UNPRIVILEGED, UNPRIVILEGED)
        yield str(home)
    finally:
        shutil.rmtree(folder)


def ordinary_python(setpriv: str, ids: list[str]) -> tuple[str, str]:
    """An interpreter the ordinary user can run the SDK with (the launcher runs on it, so
    it must lie where that user may go: not in root's home), and its ``PYTHONPATH``."""
    import un_async

    paths = [str(Path(un_async.__file__).parent.parent), sysconfig.get_paths()["purelib"]]
    pythonpath = os.pathsep.join(paths)
    for candidate in (sys.executable, "/usr/bin/python3"):
        real = os.path.realpath(candidate)
        if not world_reachable(real) or not os.path.isfile(real):
            continue
        done = subprocess.run(
            [setpriv, *ids, real, "-c", "import un_async.backends.local.backend"],
            env={"PYTHONPATH": pythonpath, "PATH": "/usr/bin:/bin"},
            capture_output=True,
            check=False,
        )
        if done.returncode == 0:
            return real, pythonpath
    pytest.skip("no Python interpreter here that an ordinary user can run the SDK with")


def run_as_ordinary_user(home: str, level: str, code: str) -> dict[str, Any]:
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("setpriv is needed to run the SDK as an ordinary user")
    ids = [f"--reuid={UNPRIVILEGED}", f"--regid={UNPRIVILEGED}", "--clear-groups"]
    python, pythonpath = ordinary_python(setpriv, ids)
    environ = {
        "PATH": os.environ.get("PATH", os.defpath),
        "HOME": home,
        "TMPDIR": str(Path(home).parent / "tmp"),
        "PYTHONPATH": pythonpath,
    }
    done = subprocess.run(
        [setpriv, *ids, python, "-c", NON_ROOT_RUN, home, level, code],
        capture_output=True,
        text=True,
        env=environ,
        cwd="/",
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    reply: dict[str, Any] = json.loads(done.stdout)
    if "unavailable" in reply:
        pytest.skip(f"not available to an ordinary user here: {reply['unavailable']}")
    return reply


@pytest.mark.parametrize("level", ["bubblewrap", "namespaces"])
async def test_an_ordinary_user_cannot_undo_the_hiding(level: str, ordinary_user_home: str) -> None:
    code = UNDO_HIDING.replace("HOME", repr(ordinary_user_home))
    reply = await asyncio.to_thread(run_as_ordinary_user, ordinary_user_home, level, code)
    assert reply["status"] == "completed", reply["stderr"]
    seen = json.loads(reply["stdout"])
    assert SECRET_VALUE not in reply["stdout"]
    assert all(errno != 0 for errno in seen["umount"].values()), seen
    if "nested_umount" in seen:  # its own namespace: the hiding mounts are locked there
        assert all(errno != 0 for errno in seen["nested_umount"].values()), seen
    assert_unprivileged(seen["status"], bounding=True)


async def test_an_ordinary_user_at_level_none_has_no_privileges(
    ordinary_user_home: str,
) -> None:
    reply = await asyncio.to_thread(run_as_ordinary_user, ordinary_user_home, "none", STATUS)
    assert reply["status"] == "completed", reply["stderr"]
    # An ordinary user cannot drop the bounding set; no_new_privs makes it moot.
    assert_unprivileged(json.loads(reply["stdout"]), bounding=False)
