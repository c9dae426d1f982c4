"""Fixtures for the local backend's tests: real programs, at every isolation level this
machine offers.

Probe answers are cached in a folder of the test run (``XDG_CACHE_HOME``), or in the
client's own home directory where the client's environment is given.
``level`` is parametrised over the levels the probe found (``bubblewrap`` needs bwrap;
CI installs it). ``local`` is one client per module and level, forced to that level, with
small limits, a private temporary directory (checked empty once the client is closed —
no workspace may survive) and a secret in its environment and home directory that
executed code must never see.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio

from support.local_backend import LEVELS, SECRET_VALUE, local_environ, options
from un_async import AsyncClient


@pytest.fixture(scope="session", autouse=True)
def private_probe_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Clients built from this process's environment keep their probe answers in a
    folder of the test run (not in the user's ``~/.cache``)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("xdg-cache")))
        yield


@pytest.fixture(scope="module", params=LEVELS)
def level(request: pytest.FixtureRequest) -> str:
    """Each isolation level available here."""
    return str(request.param)


@pytest.fixture(scope="module")
def private_tmp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """``tempfile.gettempdir()`` for the module: a fresh directory others may traverse
    (at level ``none`` the program's uid must reach its work directory)."""
    tmp_path_factory.getbasetemp()  # pytest's own folder stays where it was
    folder = tempfile.mkdtemp(prefix="un-async-tests-")
    os.chmod(folder, 0o711)  # noqa: S103 - traversable, not listable or writable
    saved = tempfile.tempdir
    tempfile.tempdir = folder
    try:
        yield Path(folder)
    finally:
        tempfile.tempdir = saved
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def secret_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The caller's home: an accounts file and a secret file the program must not read."""
    home = tmp_path_factory.mktemp("secret-home")
    (home / ".unsandbox").mkdir()
    (home / ".unsandbox" / "accounts.csv").write_text(f"pk,{SECRET_VALUE}\n")
    (home / "secret.txt").write_text(SECRET_VALUE)
    return home


async def _client(level: str, private_tmp: Path, home: Path) -> AsyncIterator[AsyncClient]:
    client = AsyncClient(
        backend="local",
        backend_options=options(level),
        environ=local_environ(home),
        timeout=60,
    )
    try:
        yield client
    finally:
        await client.aclose()
    assert os.listdir(private_tmp) == [], "a workspace survived the client"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def local(level: str, private_tmp: Path, secret_home: Path) -> AsyncIterator[AsyncClient]:
    """A client on the local backend at ``level``; after it closes, no workspace is left."""
    async for client in _client(level, private_tmp, secret_home):
        yield client


@pytest.fixture(scope="module")
def best_level() -> str:
    """The best level available here (for tests whose subject does not depend on it)."""
    return LEVELS[0]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def best(best_level: str, private_tmp: Path, secret_home: Path) -> AsyncIterator[AsyncClient]:
    """Like ``local``, at the best level only."""
    async for client in _client(best_level, private_tmp, secret_home):
        yield client


@pytest_asyncio.fixture(loop_scope="module")
async def fresh(
    best_level: str, private_tmp: Path, secret_home: Path
) -> AsyncIterator[AsyncClient]:
    """A client of its own for one test, at the best level."""
    async with AsyncClient(
        backend="local", backend_options=options(best_level), environ=local_environ(secret_home)
    ) as client:
        yield client


@pytest_asyncio.fixture(loop_scope="module")
async def fresh_small_files(
    level: str, private_tmp: Path, secret_home: Path
) -> AsyncIterator[AsyncClient]:
    """A client whose programs may write files of at most 1 MiB."""
    async with AsyncClient(
        backend="local",
        backend_options=options(level, file_size_mb=1),
        environ=local_environ(secret_home),
    ) as client:
        yield client
