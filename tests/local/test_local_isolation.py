"""What executed code must not reach, per level: the caller's environment, the home
directory and accounts file, the host network under zerotrust, writable paths outside
its work directory and /tmp. Every result reports the level and what it leaves open."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import shutil
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from support.local_backend import (
    ISOLATION,
    SECRET_VALUE,
    SECRET_VAR,
    local_environ,
    options,
    skip_below,
)
from un_async import AsyncClient
from un_async.backends.local.host import exposes_home

pytestmark = pytest.mark.asyncio(loop_scope="module")

EXPECTED_ENV = {
    "PATH", "HOME", "PWD", "LANG", "LC_ALL", "TMPDIR",
    "PYTHONUNBUFFERED", "PYTHONDONTWRITEBYTECODE", "CALLER_VAR",
}  # fmt: skip

DUMP_ENV = "import json, os\nprint(json.dumps(dict(os.environ)))"


async def test_environment_is_exactly_the_documented_one(
    local: AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SECRET_VAR, SECRET_VALUE)  # in this process too, not only the client's
    result = await local.execute_code("python", DUMP_ENV, env={"CALLER_VAR": "given"})
    seen = json.loads(result.stdout)
    assert set(seen) == EXPECTED_ENV
    assert SECRET_VALUE not in result.stdout
    assert seen["CALLER_VAR"] == "given"
    assert seen["HOME"] == seen["PWD"]
    assert (seen["LANG"], seen["LC_ALL"]) == ("C.UTF-8", "C.UTF-8")
    assert seen["PATH"].endswith("/usr/local/bin:/usr/bin:/bin")


async def test_work_directory_is_home_and_current_directory(best: AsyncClient) -> None:
    code = "import os\nprint(os.getcwd() == os.environ['HOME'], os.access('.', os.W_OK))"
    result = await best.execute_code("python", code)
    assert result.stdout == "True True\n"


async def test_home_directory_and_accounts_file_are_invisible(
    local: AsyncClient, level: str, secret_home: os.PathLike[str]
) -> None:
    skip_below(level, ("bubblewrap", "namespaces"), "to hide the home directory")
    home = os.fspath(secret_home)
    code = (
        "import os, sys\n"
        "for path in sys.argv[1:] if len(sys.argv) > 1 else "
        f"[{home!r} + '/secret.txt', {home!r} + '/.unsandbox/accounts.csv', {home!r}]:\n"
        "    try:\n"
        "        print(path, 'LISTED', os.listdir(path)) if os.path.isdir(path) else "
        "print(path, 'READ', open(path).read())\n"
        "    except OSError as exc:\n"
        "        print(path, 'DENIED', exc.errno)\n"
    )
    result = await local.execute_code("python", code)
    assert result.status == "completed", result.stderr
    assert SECRET_VALUE not in result.stdout
    assert "READ" not in result.stdout
    listed = [line for line in result.stdout.splitlines() if "LISTED" in line]
    assert listed in ([], [f"{home} LISTED []"])


def _root_entries() -> list[str]:
    try:
        return os.listdir("/root")
    except OSError:
        return []


ROOT_ENTRIES = _root_entries()


async def test_root_home_shows_only_toolchain_prefixes(local: AsyncClient, level: str) -> None:
    skip_below(level, ("bubblewrap", "namespaces"), "to hide the home directory")
    if not ROOT_ENTRIES:
        pytest.skip("no readable /root with content here")
    code = "import os\ntry:\n    print(sorted(os.listdir('/root')))\nexcept OSError:\n    print([])"
    result = await local.execute_code("python", code)
    visible = set(json.loads(result.stdout.replace("'", '"')))
    needed = {".pyenv", ".rustup", ".cargo", ".nvm", ".local"}
    assert visible <= needed, f"unexpected entries of /root visible: {visible - needed}"


async def test_no_writable_path_outside_work_directory_and_tmp(
    local: AsyncClient, level: str
) -> None:
    skip_below(level, ("bubblewrap",), "a private filesystem")
    code = (
        "import os\n"
        "writable = []\n"
        "skip = ('/proc', '/sys', '/dev', '/tmp', os.getcwd())\n"
        "for path, dirs, files in os.walk('/'):\n"
        "    dirs[:] = [d for d in dirs if not os.path.join(path, d).startswith(skip)]\n"
        "    if path.count('/') >= 3:\n"
        "        dirs[:] = []\n"
        "    writable += [p for p in [path, *(os.path.join(path, f) for f in files)]\n"
        "                 if os.access(p, os.W_OK) and not p.startswith(skip)]\n"
        "print(sorted(set(writable)))\n"
        "open('/tmp/probe', 'w').write('ok')\n"
        "open('/dev/shm/probe', 'w').write('ok')\n"
    )
    result = await local.execute_code("python", code)
    assert result.status == "completed", result.stderr
    assert result.stdout == "[]\n"


async def _loopback_server() -> tuple[asyncio.Server, int]:
    async def greet(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"hello from the host\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(greet, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


@pytest_asyncio.fixture(loop_scope="module")
async def host_port() -> AsyncIterator[int]:
    """A server on the host's 127.0.0.1 that greets whoever connects."""
    server, port = await _loopback_server()
    async with server:
        yield port


CONNECT = (
    "import socket, sys\n"
    "try:\n"
    "    with socket.create_connection(('127.0.0.1', int(sys.argv[1]) if len(sys.argv) > 1 "
    "else PORT), timeout=3) as s:\n"
    "        print('reached', s.recv(100).decode().strip())\n"
    "except OSError as exc:\n"
    "    print('unreachable', exc.errno)\n"
)


async def test_zerotrust_cannot_reach_the_host_loopback(
    local: AsyncClient, level: str, host_port: int
) -> None:
    skip_below(level, ("bubblewrap", "namespaces"), "a private network")
    code = CONNECT.replace("PORT", str(host_port))
    result = await local.execute_code("python", code, network_mode="zerotrust")
    assert result.stdout.startswith("unreachable"), result.stdout
    assert result.isolation is not None
    assert result.isolation["network"] == "none"
    default = await local.execute_code("python", code)
    assert default.stdout.startswith("unreachable")


async def test_zerotrust_has_its_own_loopback(local: AsyncClient, level: str) -> None:
    skip_below(level, ("bubblewrap", "namespaces"), "a private network")
    code = (
        "import socket\n"
        "server = socket.create_server(('127.0.0.1', 0))\n"
        "client = socket.create_connection(server.getsockname())\n"
        "print('loopback works')\n"
    )
    result = await local.execute_code("python", code)
    assert result.stdout == "loopback works\n", result.stderr


async def test_semitrusted_reaches_the_host(local: AsyncClient, level: str, host_port: int) -> None:
    code = CONNECT.replace("PORT", str(host_port))
    result = await local.execute_code("python", code, network_mode="semitrusted")
    assert result.stdout == "reached hello from the host\n", result.stderr
    assert result.isolation is not None
    assert result.isolation["network"] == "host"


async def test_runs_as_an_unprivileged_user(local: AsyncClient) -> None:
    if os.geteuid() != 0:
        pytest.skip("the backend runs as root only in this check's setting")
    if ISOLATION.host.uid_pool is None:
        pytest.skip("no unprivileged uid pool here (partial user-namespace mapping)")
    code = (
        "import os\n"
        "status = open('/proc/self/status').read()\n"
        "caps = [line.split()[1] for line in status.splitlines() if line.startswith('CapEff')]\n"
        "print(os.getuid(), os.getgid(), os.getgroups() in ([], [os.getgid()]), caps[0])\n"
    )
    result = await local.execute_code("python", code)
    uid, gid, groups_ok, caps = result.stdout.split()
    assert int(uid) >= ISOLATION.host.uid_pool.base
    assert gid == uid
    assert groups_ok == "True"
    assert int(caps, 16) == 0


async def test_isolation_facts_are_reported(local: AsyncClient, level: str) -> None:
    result = await local.execute_code("bash", "true")
    facts = result.isolation
    assert facts is not None
    assert result["isolation"] == facts
    assert set(facts) >= {"level", "network", "filesystem", "warnings"}
    assert facts["level"] == level
    expected = {
        "bubblewrap": ("none", "private"),
        "namespaces": ("none", "host"),
        "none": ("host", "host"),
    }[level]
    assert (facts["network"], facts["filesystem"]) == expected
    if level == "bubblewrap" and os.geteuid() == 0:
        assert facts["warnings"] == []
    if level != "bubblewrap":
        assert facts["warnings"]


# -- toolchains installed in a home directory ------------------------------------------------


@pytest_asyncio.fixture(loop_scope="module")
async def home_toolchain_client(
    level: str, private_tmp: Path, tmp_path: Path
) -> AsyncIterator[tuple[AsyncClient, Path]]:
    """A client whose python is ``~/bin/python3`` (a link to the system's), in a home
    that also holds a secret: ``~/bin``'s install prefix is the home itself."""
    skip_below(level, ("bubblewrap", "namespaces"), "to hide the home directory")
    python = shutil.which("python3", path="/usr/bin:/bin")
    if python is None:
        pytest.skip("no system python3 to link from a home directory")
    home = tmp_path / "home"
    (home / "bin").mkdir(parents=True)
    (home / "bin" / "python3").symlink_to(python)
    (home / "secret.txt").write_text(SECRET_VALUE)
    environ = {**local_environ(home), "PATH": f"{home}/bin:{os.environ.get('PATH', '')}"}
    async with AsyncClient(
        backend="local", backend_options=options(level), environ=environ
    ) as client:
        yield client, home


async def test_a_toolchain_in_a_home_does_not_expose_the_home(
    home_toolchain_client: tuple[AsyncClient, Path],
) -> None:
    client, home = home_toolchain_client
    code = (
        "import os, sys\n"
        "print(sys.executable)\n"
        f"home = {str(home)!r}\n"
        "print(sorted(os.listdir(home)) if os.path.isdir(home) else 'absent')\n"
        "try:\n"
        "    print(open(os.path.join(home, 'secret.txt')).read())\n"
        "except OSError as exc:\n"
        "    print('unreadable', exc.errno)\n"
    )
    result = await client.execute_code("python", code)
    assert result.status == "completed", result.stderr
    assert SECRET_VALUE not in result.stdout
    executable, listing, secret = result.stdout.splitlines()
    assert executable == f"{home}/bin/python3"  # the home's toolchain ran ...
    assert listing in ("['bin']", "absent", "[]")  # ... with only its own directory bound
    assert secret.startswith("unreadable")


@pytest.mark.parametrize(
    ("path", "exposes"),
    [
        ("/", True),
        ("/home", True),
        ("/home/someone", True),
        ("/home/someone/.local", True),
        ("/home/someone/.config", True),
        ("/root", True),
        ("/root/.local", True),
        ("/srv/home-of-caller", True),
        ("/srv", True),
        ("/srv/home-of-caller/bin", False),
        ("/home/someone/.pyenv/versions/3.12.1", False),
        ("/home/someone/.local/lib/node_modules/typescript", False),
        ("/opt/node-v20", False),
        ("/usr/local", False),
    ],
)
async def test_which_paths_expose_a_home(path: str, exposes: bool) -> None:
    assert exposes_home(path, "/srv/home-of-caller") is exposes


# -- the namespaces level's own /tmp and hidden /run -------------------------------------------


@pytest_asyncio.fixture(loop_scope="module")
async def host_socket() -> AsyncIterator[str]:
    """A Unix socket server in the host's /tmp that greets whoever connects."""

    async def greet(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"hello from a host socket\n")
        await writer.drain()
        writer.close()

    folder = tempfile.mkdtemp(prefix="un-async-socket-", dir="/tmp")
    try:
        os.chmod(folder, 0o755)  # noqa: S103 - reachable by the program's uid
        path = os.path.join(folder, "greeter.sock")
        server = await asyncio.start_unix_server(greet, path)
        os.chmod(path, 0o777)  # noqa: S103 - connectable by the program's uid
        async with server:
            yield path
    finally:
        shutil.rmtree(folder)


async def test_shared_temporary_directories_are_the_executions_own(
    local: AsyncClient, level: str, host_socket: str
) -> None:
    skip_below(level, ("bubblewrap", "namespaces"), "private temporary directories")
    token = f"un-async-probe-{secrets.token_hex(8)}"
    code = (
        "import os, socket, sys\n"
        f"token, sock = {token!r}, {host_socket!r}\n"
        "for folder in ('/tmp', '/var/tmp', '/dev/shm'):\n"
        "    if os.path.isdir(folder):\n"
        "        open(os.path.join(folder, token), 'w').write('x')\n"
        "try:\n"
        "    client = socket.socket(socket.AF_UNIX)\n"
        "    client.connect(sock)\n"
        "    print('reached', client.recv(100).decode().strip())\n"
        "except OSError as exc:\n"
        "    print('unreachable', exc.errno)\n"
        "run = os.listdir('/run') if os.path.isdir('/run') else []\n"
        "print(sorted(run))\n"
    )
    result = await local.execute_code("python", code)
    assert result.status == "completed", result.stderr
    reached, run = result.stdout.splitlines()
    assert reached.startswith("unreachable"), reached
    assert left_on_the_host(token) == []
    assert set(json.loads(run.replace("'", '"'))) <= kept_in_run()


def left_on_the_host(name: str) -> list[str]:
    """Paths named ``name`` in the host's shared temporary directories."""
    shared = ("/tmp", "/var/tmp", "/dev/shm")
    return [path for path in (os.path.join(d, name) for d in shared) if os.path.exists(path)]


def kept_in_run() -> set[str]:
    """The entries of /run the namespaces level keeps: the resolver's, if it lies there."""
    resolver = os.path.realpath("/etc/resolv.conf")
    return {resolver.split("/")[2]} if resolver.startswith("/run/") else set()
