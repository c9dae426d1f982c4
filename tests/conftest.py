"""Shared fixtures: an isolated environment, fake servers, clients bound to them, and raw
HTTP for testing the fake itself. Helper functions live in the ``support`` package.

Every test runs with ``HOME`` and the working directory in a temporary folder and with
all ``UNSANDBOX_*``/``UN_ASYNC_*`` variables removed, so no real credentials, caches or
accounts files are read or written.

Time limits: a test should take under :data:`FAST_LIMIT` seconds; one that needs longer
carries ``@pytest.mark.slow(reason=...)``, and the terminal summary lists unmarked tests
over the limit. A setup, call or teardown still running after :data:`HANG_LIMIT` seconds
(:data:`SLOW_HANG_LIMIT` for slow tests) fails as hung, so ``pytest -x`` stops promptly.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import AsyncIterator, Generator, Iterator
from contextlib import AsyncExitStack
from pathlib import Path
from types import FrameType
from typing import Any

import aiohttp
import pytest
import trustme

from support import KEYS, MakeClient, fast_config
from un_async import AsyncClient
from un_async.testing import TEST_PUBLIC_KEY, TEST_SECRET_KEY, FakeUnsandbox

FAST_LIMIT = 5.0
"""Seconds a test may take (setup, call and teardown) without a ``slow`` marker."""

HANG_LIMIT = 30.0
"""Seconds after which a test phase fails as hung."""

SLOW_HANG_LIMIT = 180.0
""":data:`HANG_LIMIT` for tests marked ``slow``."""


# -- time limits --------------------------------------------------------------------------


class HungTestError(Exception):
    """A test phase ran past its hang limit."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A ``slow`` marker must say why."""
    for item in items:
        marker = item.get_closest_marker("slow")
        if marker is not None and not (marker.kwargs.get("reason") or marker.args):
            raise pytest.UsageError(f"{item.nodeid}: @pytest.mark.slow needs a reason")


def _hang_guard(item: pytest.Item) -> Generator[None, object, object]:
    """Run a test phase under a SIGALRM timer that raises :class:`HungTestError`."""
    if (
        not hasattr(signal, "setitimer")
        or threading.current_thread() is not threading.main_thread()
    ):
        return (yield)
    limit = SLOW_HANG_LIMIT if item.get_closest_marker("slow") else HANG_LIMIT

    def expire(signum: int, frame: FrameType | None) -> None:
        raise HungTestError(f"still running after {limit:g} s: hung, or needs a slow marker")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, limit)
    try:
        return (yield)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None, object, object]:
    return (yield from _hang_guard(item))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, object, object]:
    return (yield from _hang_guard(item))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item) -> Generator[None, object, object]:
    return (yield from _hang_guard(item))


_durations: dict[str, float] = {}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if "slow" not in report.keywords:
        _durations[report.nodeid] = _durations.get(report.nodeid, 0.0) + report.duration


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """List the unmarked tests that took longer than :data:`FAST_LIMIT`."""
    over = sorted(
        ((seconds, nodeid) for nodeid, seconds in _durations.items() if seconds > FAST_LIMIT),
        reverse=True,
    )
    if over:
        terminalreporter.section(f"tests over {FAST_LIMIT:g} s without a slow marker")
        for seconds, nodeid in over:
            terminalreporter.write_line(f"{seconds:6.2f}s {nodeid}")


@pytest.fixture(autouse=True)
def isolated_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private HOME and working directory; no unsandbox variables."""
    home = tmp_path / "isolated-home"
    work = tmp_path / "isolated-cwd"
    home.mkdir()
    work.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for name in list(os.environ):
        if name.startswith(("UNSANDBOX_", "UN_ASYNC_")):
            monkeypatch.delenv(name)
    monkeypatch.chdir(work)
    return home


# -- fake servers -------------------------------------------------------------------------


@pytest.fixture
async def fake() -> AsyncIterator[FakeUnsandbox]:
    """A fake unsandbox server on 127.0.0.1 (finished jobs answer synchronously)."""
    async with FakeUnsandbox() as server:
        yield server


@pytest.fixture
async def job_fake() -> AsyncIterator[FakeUnsandbox]:
    """A fake server whose ``/execute`` always answers with a pending job."""
    async with FakeUnsandbox(mode="job") as server:
        yield server


@pytest.fixture
def fake_env(fake: FakeUnsandbox, monkeypatch: pytest.MonkeyPatch) -> FakeUnsandbox:
    """Point the module-level functions at the fake server with its test account."""
    monkeypatch.setenv("UNSANDBOX_API_URL", fake.url)
    monkeypatch.setenv("UNSANDBOX_PUBLIC_KEY", TEST_PUBLIC_KEY)
    monkeypatch.setenv("UNSANDBOX_SECRET_KEY", TEST_SECRET_KEY)
    return fake


# -- clients ------------------------------------------------------------------------------


@pytest.fixture
async def client(fake: FakeUnsandbox) -> AsyncIterator[AsyncClient]:
    """An :class:`AsyncClient` bound to the fake server with the test account and the
    default settings."""
    async with AsyncClient(base_url=fake.url, **KEYS) as instance:
        yield instance


@pytest.fixture
async def make_client() -> AsyncIterator[MakeClient]:
    """``make_client(fake_or_url, **config_fields)``: clients with the test account and
    :func:`support.fast_config` settings; all are closed after the test."""
    async with AsyncExitStack() as stack:

        def build(target: FakeUnsandbox | str, **overrides: Any) -> AsyncClient:
            made = AsyncClient(config=fast_config(target, **overrides), **KEYS)
            stack.push_async_callback(made.aclose)
            return made

        yield build


# -- raw HTTP (testing the fake server itself) --------------------------------------------


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """A plain aiohttp session (see :func:`support.signed_http.send`)."""
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
def no_server_errors(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Fail the test if aiohttp or asyncio logged a warning or worse (intentional aborts
    must stay silent)."""
    caplog.set_level(logging.DEBUG)
    yield
    noisy = [
        r
        for r in caplog.records
        if r.levelno >= logging.WARNING and r.name.split(".")[0] in ("aiohttp", "asyncio")
    ]
    assert noisy == []


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[trustme.CA, Path, Path]:
    """A test CA and a certificate for 127.0.0.1/localhost: ``(ca, cert_file, key_file)``."""
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    folder = tmp_path_factory.mktemp("tls")
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert.private_key_pem.write_to_path(str(key_file))
    for index, pem in enumerate(cert.cert_chain_pems):
        pem.write_to_path(str(cert_file), append=index > 0)
    return ca, cert_file, key_file
