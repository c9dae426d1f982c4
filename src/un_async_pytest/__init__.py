"""pytest plugin: a cassette per test (loaded through the ``pytest11`` entry point).

Inert unless used: it only adds options, a marker and fixtures. It is a top-level package,
outside the ``un_async`` package, so that loading it into every pytest session of an
environment imports neither ``un_async`` nor ``aiohttp``; the SDK is imported by the
fixtures, when a test uses one.

* ``un_async_client`` — an :class:`~un_async.AsyncClient` on an execution-level cassette
  (needs pytest-asyncio); ``un_async_http_client`` — the unsandbox backend over an
  HTTP-level cassette, whose replay re-verifies every request's signature.
* ``un_async_cassette`` — the per-test :class:`CassetteBinding` behind both, for building
  clients, executors or transports yourself.
* ``un_async_client_options`` — keyword arguments for those clients (default ``{}``);
  override it in a ``conftest.py`` to point recordings at a server.

Cassettes live at ``<rootdir>/<un_async_cassette_dir>/<module>/<test>.json`` (HTTP level:
``<test>.http.json``); ``@pytest.mark.un_async_cassette("name")`` names one explicitly
(relative to the cassette directory, or absolute). ``--un-async-record-mode`` (ini
``un_async_record_mode``) is ``none`` (default), ``once``, ``new_episodes`` or ``all``;
``--un-async-replay-latency`` is ``none``, ``recorded`` or ``scaled:F``.

A test that fails (in setup or call) writes nothing: its recordings are discarded, so a
cassette never captures a half-finished run. A passing test's recordings are written at
teardown.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import AsyncIterator, Generator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from un_async.backends.replay import CassetteSession
    from un_async.backends.replay.cassette import Level
    from un_async.core.client import AsyncClient
    from un_async.core.config import ClientConfig
    from un_async.core.executor import Executor

__all__ = ["MARKER", "MODES", "CassetteBinding", "cassette_path"]

MARKER = "un_async_cassette"
MODES = ("none", "once", "new_episodes", "all")
"""The record modes (``un_async.backends.replay.RecordMode``), kept here so that
validating the option imports nothing."""
_REPORTS = pytest.StashKey[dict[str, pytest.TestReport]]()
_UNSAFE = re.compile(r"[^\w.-]+")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("un_async", "un-async record/replay")
    group.addoption(
        "--un-async-record-mode",
        choices=MODES,
        default=None,
        help="cassette record mode for un_async fixtures (default: ini or 'none')",
    )
    group.addoption(
        "--un-async-replay-latency",
        default=None,
        metavar="LATENCY",
        help="replay latency: none, recorded or scaled:F (default: ini or 'none')",
    )
    parser.addini("un_async_record_mode", "default cassette record mode", default="none")
    parser.addini("un_async_replay_latency", "default replay latency", default="none")
    parser.addini(
        "un_async_cassette_dir",
        "cassette directory, relative to rootdir",
        default="tests/cassettes",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}(name): use the named cassette (relative to un_async_cassette_dir) "
        "instead of <module>/<test>.json",
    )
    problem = _record_mode_problem(_setting(config, "record_mode")) or _latency_problem(
        _setting(config, "replay_latency")
    )
    if problem:
        raise pytest.UsageError(problem)


def _record_mode_problem(value: str) -> str | None:
    """Why ``value`` is not a record mode (as ``RecordMode.parse`` words it), or ``None``."""
    if (value or "none").strip().lower().replace("-", "_") in MODES:
        return None
    return f"unknown record mode {value!r}; expected one of: {', '.join(MODES)}"


def _latency_problem(value: str) -> str | None:
    """Why ``value`` is not a replay latency (as ``Latency.parse`` words it), or ``None``."""
    text = value.strip().lower()
    if text in ("", "none", "recorded"):
        return None
    if not text.startswith("scaled:"):
        return f"unknown replay latency {value!r}; expected none, recorded or scaled:FACTOR"
    try:
        factor = float(text.removeprefix("scaled:"))
    except ValueError:
        factor = math.nan
    if math.isfinite(factor) and factor >= 0:
        return None
    return f"replay latency factor must be a finite number >= 0, got {value!r}"


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    item.stash.setdefault(_REPORTS, {})[report.when] = report
    return report


def _setting(config: pytest.Config, name: str) -> str:
    value = config.getoption(f"un_async_{name}")
    return str(value if value is not None else config.getini(f"un_async_{name}"))


def cassette_path(node: pytest.Item, config: pytest.Config) -> Path:
    """The cassette file of a test: its marker's name, else ``<module>/<test>.json``."""
    directory = config.rootpath / str(config.getini("un_async_cassette_dir"))
    marker = node.get_closest_marker(MARKER)
    if marker is not None:
        if not marker.args or not isinstance(marker.args[0], str | os.PathLike):
            raise pytest.UsageError(f"{node.nodeid}: @pytest.mark.{MARKER} needs a cassette name")
        named = Path(marker.args[0])
        path = named if named.is_absolute() else directory / named
        return path if path.suffix == ".json" else path.with_name(path.name + ".json")
    module = Path(str(node.path)).stem
    test = node.nodeid.split("::", 1)[-1].replace("::", ".")
    return directory / module / f"{_UNSAFE.sub('_', test).strip('_')}.json"


class CassetteBinding:
    """One test's cassette: its path, mode and latency, and the sessions opened on it.

    ``client()``/``http_client()`` build clients (the caller closes them); the plugin
    saves every session at teardown, or discards them if the test failed.
    """

    def __init__(self, path: Path, mode: str, latency: str) -> None:
        from un_async.backends.replay.modes import RecordMode

        self.path = path
        self.mode = RecordMode.parse(mode)
        self.latency = latency
        self._sessions: dict[str, CassetteSession] = {}

    def __repr__(self) -> str:
        return f"CassetteBinding({str(self.path)!r}, mode={self.mode.value!r})"

    def path_for(self, level: Level) -> Path:
        """The file of ``level``: ``<name>.json`` (execution) or ``<name>.http.json``."""
        if level == "execution":
            return self.path
        return self.path.with_name(self.path.name.removesuffix(".json") + ".http.json")

    def session(self, level: Level) -> CassetteSession:
        """The test's session at ``level`` (opened on first use)."""
        from un_async.backends.replay.redaction import SecretSet
        from un_async.backends.replay.session import CassetteSession

        session = self._sessions.get(level)
        if session is None:
            session = CassetteSession(
                level=level,
                mode=self.mode,
                path=self.path_for(level),
                secrets=SecretSet.from_environ(os.environ),
            )
            self._sessions[level] = session
        return session

    def executor(self, make_inner: Any = None) -> Executor:
        """An execution-level backend; ``make_inner()`` builds the backend recordings go
        through (needed only when the session records)."""
        from un_async.backends.replay.executor import RecordingExecutor, ReplayExecutor

        session = self.session("execution")
        recorder = None
        if session.recording:
            if make_inner is None:
                raise pytest.UsageError(f"{self!r} records and needs a backend to record")
            recorder = RecordingExecutor(make_inner(), session, save_on_close=False)
        if not session.replaying:
            assert recorder is not None
            return recorder
        return ReplayExecutor(session, latency=self.latency, fallback=recorder)

    def client(self, **options: Any) -> AsyncClient:
        """An :class:`~un_async.AsyncClient` on the execution-level cassette; recordings go
        through the unsandbox backend configured by ``options`` and the environment."""
        from un_async.backends.unsandbox.backend import UnsandboxBackend
        from un_async.core.client import AsyncClient
        from un_async.core.plugin_host import default_host

        def make_inner() -> Executor:
            return UnsandboxBackend(
                _inner_config(options), options.get("plugins") or default_host()
            )

        return AsyncClient(backend=self.executor(make_inner), **options)

    def http_client(self, **options: Any) -> AsyncClient:
        """An :class:`~un_async.AsyncClient` whose unsandbox backend runs over the
        HTTP-level cassette. It signs with ``public_key``/``secret_key`` from ``options``,
        else with the fixed test account, and replay verifies against the same keys."""
        from un_async.backends.replay.cassette_transport import CassetteTransport
        from un_async.backends.unsandbox.backend import UnsandboxBackend
        from un_async.backends.unsandbox.transport import AiohttpTransport
        from un_async.core.client import AsyncClient
        from un_async.core.credentials import Credentials
        from un_async.core.plugin_host import default_host
        from un_async.testing import TEST_PUBLIC_KEY, TEST_SECRET_KEY

        public_key = options.pop("public_key", None) or TEST_PUBLIC_KEY
        secret_key = options.pop("secret_key", None) or TEST_SECRET_KEY
        config = _inner_config(options)
        session = self.session("http")
        inner = None
        if session.recording:
            inner = AiohttpTransport(
                config.base_url,
                connect_timeout=config.connect_timeout,
                read_timeout=config.request_timeout,
                ssl_context=config.options.get("ssl_context"),
            )
        host = options.get("plugins") or default_host()
        transport = CassetteTransport(
            session,
            inner=inner,
            credentials=Credentials(public_key, secret_key, "explicit"),
            host=host,
            latency=self.latency,
            save_on_close=False,
        )
        backend = UnsandboxBackend(config, host, transport=transport)
        if "config" not in options:  # one poll per job: listings depend on timing
            options.setdefault("shared_polling", False)
        return AsyncClient(backend=backend, public_key=public_key, secret_key=secret_key, **options)

    def finish(self, *, failed: bool) -> None:
        """Save every session's recordings, or discard them when the test failed."""
        for session in self._sessions.values():
            if failed:
                session.discard()
            else:
                session.save()


def _inner_config(options: dict[str, Any]) -> ClientConfig:
    from un_async.core.config import ClientConfig

    config = options.get("config")
    if isinstance(config, ClientConfig):
        return config
    environ = options.get("environ")
    return ClientConfig.from_env(
        os.environ if environ is None else environ,
        base_url=options.get("base_url"),
        allow_insecure_http=options.get("allow_insecure_http"),
    )


@pytest.fixture
def un_async_record_mode(request: pytest.FixtureRequest) -> str:
    """The record mode in effect (``--un-async-record-mode``, ini, or ``none``)."""
    return _setting(request.config, "record_mode").strip().lower()


@pytest.fixture
def un_async_cassette(
    request: pytest.FixtureRequest, un_async_record_mode: str
) -> Iterator[CassetteBinding]:
    """This test's :class:`CassetteBinding`; saved at teardown unless the test failed."""
    binding = CassetteBinding(
        cassette_path(request.node, request.config),
        un_async_record_mode,
        _setting(request.config, "replay_latency"),
    )
    yield binding
    reports = request.node.stash.get(_REPORTS, {})
    binding.finish(failed=any(report.failed for report in reports.values()))


@pytest.fixture
def un_async_client_options() -> dict[str, Any]:
    """Keyword arguments for ``un_async_client``/``un_async_http_client``; override it."""
    return {}


try:
    import pytest_asyncio
except ImportError:  # pragma: no cover - the async fixtures need pytest-asyncio
    pass
else:

    @pytest_asyncio.fixture
    async def un_async_client(
        un_async_cassette: CassetteBinding, un_async_client_options: dict[str, Any]
    ) -> AsyncIterator[AsyncClient]:
        """An execution-level client bound to this test's cassette."""
        async with un_async_cassette.client(**un_async_client_options) as client:
            yield client

    @pytest_asyncio.fixture
    async def un_async_http_client(
        un_async_cassette: CassetteBinding, un_async_client_options: dict[str, Any]
    ) -> AsyncIterator[AsyncClient]:
        """A client whose HTTP exchanges are recorded/replayed (signatures re-verified)."""
        async with un_async_cassette.http_client(**un_async_client_options) as client:
            yield client
