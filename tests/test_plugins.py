"""Third-party plugins: credential sources, detectors, and hook validation."""

from __future__ import annotations

import inspect
from pathlib import Path

import pluggy
import pytest

from un_async.core import hookspecs
from un_async.core.credential_chain import resolve_credentials
from un_async.core.credentials import CredentialContext, Credentials
from un_async.core.errors import ConfigurationError, CredentialsError
from un_async.core.events import ExecutionEvent
from un_async.core.hookspecs import HOOK_NAMES, RegisterCredentialProvider, hookimpl
from un_async.core.plugin_host import PluginHost

ENV = {"UNSANDBOX_PUBLIC_KEY": "unsb-pk-from-env", "UNSANDBOX_SECRET_KEY": "unsb-sk-from-env"}


class VaultProvider:
    """A credential source a plugin might add (e.g. a secrets manager)."""

    name = "vault"

    def __init__(self, available: bool = True) -> None:
        self.available = available
        self.calls = 0

    async def get_credentials(self, context: CredentialContext) -> Credentials | None:
        self.calls += 1
        if not self.available:
            return None
        return Credentials("unsb-pk-from-vault", "unsb-sk-from-vault", source=self.name)

    def describe(self, context: CredentialContext) -> str:
        return "vault: no secret stored"


class MyPlugin:
    def __init__(self, provider: VaultProvider | None = None) -> None:
        self.provider = provider or VaultProvider()

    @hookimpl
    def register_credential_providers(self, register: RegisterCredentialProvider) -> None:
        register(self.provider, before="environment")

    @hookimpl
    def detect_language(self, filename: str, source: str | None) -> str | None:
        return "python" if filename.endswith(".foo") else None


def ctx(tmp_path: Path, **kwargs: object) -> CredentialContext:
    return CredentialContext(
        home=tmp_path, cwd=tmp_path, environ=dict(ENV), **kwargs  # type: ignore[arg-type]
    )


def test_plugin_provider_is_placed_before_environment() -> None:
    host = PluginHost(load_entry_points=False, plugins=[MyPlugin()])
    assert [p.name for p in host.credential_providers()] == [
        "explicit", "account-index", "vault", "environment", "home-accounts", "local-accounts",
    ]


async def test_chain_resolves_from_plugin(tmp_path: Path) -> None:
    host = PluginHost(load_entry_points=False, plugins=[MyPlugin()])
    creds = await resolve_credentials(host.credential_providers(), ctx(tmp_path))
    assert (creds.public_key, creds.source) == ("unsb-pk-from-vault", "vault")


async def test_explicit_keys_still_beat_plugin(tmp_path: Path) -> None:
    plugin = MyPlugin()
    host = PluginHost(load_entry_points=False, plugins=[plugin])
    context = ctx(tmp_path, public_key="pk", secret_key="sk")
    creds = await resolve_credentials(host.credential_providers(), context)
    assert creds.source == "explicit"
    assert plugin.provider.calls == 0


async def test_declining_plugin_falls_through_and_is_described(tmp_path: Path) -> None:
    host = PluginHost(load_entry_points=False, plugins=[MyPlugin(VaultProvider(available=False))])
    creds = await resolve_credentials(host.credential_providers(), ctx(tmp_path))
    assert creds.source == "environment"
    context = CredentialContext(home=tmp_path, cwd=tmp_path, environ={})
    with pytest.raises(CredentialsError, match="vault: no secret stored"):
        await resolve_credentials(host.credential_providers(), context)


async def test_provider_returning_wrong_type_is_a_configuration_error(tmp_path: Path) -> None:
    class Broken(VaultProvider):
        async def get_credentials(self, context: CredentialContext) -> Credentials | None:
            return ("pk", "sk")  # type: ignore[return-value]

    host = PluginHost(load_entry_points=False, plugins=[MyPlugin(Broken())])
    with pytest.raises(ConfigurationError, match="vault"):
        await resolve_credentials(host.credential_providers(), ctx(tmp_path))


def test_plugin_detector_wins_and_builtin_still_answers() -> None:
    host = PluginHost(load_entry_points=False, plugins=[MyPlugin()])
    assert host.detect_language("x.foo") == "python"
    assert host.detect_language("x.py") == "python"
    assert host.detect_language("x.rb") == "ruby"
    assert host.detect_language("x.bar") is None


def test_plugin_detector_overrides_builtin() -> None:
    class MatlabPlugin:
        @hookimpl
        def detect_language(self, filename: str, source: str | None) -> str | None:
            return "octave" if filename.endswith(".m") else None

    host = PluginHost(load_entry_points=False, plugins=[MatlabPlugin()])
    assert host.detect_language("solve.m") == "octave"
    assert PluginHost(load_entry_points=False).detect_language("solve.m") == "objc"


def test_async_hookimpl_is_rejected() -> None:
    class AsyncPlugin:
        @hookimpl
        async def detect_language(self, filename: str, source: str | None) -> str | None:
            return "python"

    with pytest.raises(ConfigurationError, match="must not be async"):
        PluginHost(load_entry_points=False, plugins=[AsyncPlugin()])

    host = PluginHost(load_entry_points=False)
    plugin = AsyncPlugin()
    with pytest.raises(ConfigurationError):
        host.register(plugin)
    assert not host.manager.is_registered(plugin)
    assert host.detect_language("x.py") == "python"


def test_misspelled_hook_fails_on_registration() -> None:
    class Typo:
        @hookimpl
        def detect_langauge(self, filename: str, source: str | None) -> str | None:
            return "python"

    with pytest.raises(pluggy.PluginValidationError, match="detect_langauge"):
        PluginHost(load_entry_points=False, plugins=[Typo()])
    with pytest.raises(pluggy.PluginValidationError):
        PluginHost(load_entry_points=False).register(Typo())


def test_unknown_anchor_is_a_configuration_error() -> None:
    class Misplaced:
        @hookimpl
        def register_credential_providers(self, register: RegisterCredentialProvider) -> None:
            register(VaultProvider(), after="no-such-provider")

    host = PluginHost(load_entry_points=False, plugins=[Misplaced()])
    with pytest.raises(ConfigurationError, match="no-such-provider"):
        host.credential_providers()


def _hookspec_functions() -> dict[str, object]:
    marker = f"{hookspecs.PROJECT}_spec"
    return {
        name: function
        for name, function in inspect.getmembers(hookspecs, inspect.isfunction)
        if hasattr(function, marker)
    }


def test_hookspec_marker_attribute_name() -> None:
    assert hookspecs.PROJECT == "un_async"
    assert isinstance(hookspecs.hookspec, pluggy.HookspecMarker)


def test_every_hookspec_is_documented_and_listed() -> None:
    specs = _hookspec_functions()
    assert specs, "no hookspecs found"
    assert set(specs) == set(HOOK_NAMES)
    for name, function in specs.items():
        doc = inspect.getdoc(function) or ""
        assert len(doc.split()) >= 8, f"hookspec {name} needs a real docstring"


def test_every_hook_name_is_callable_on_the_host() -> None:
    host = PluginHost(load_entry_points=False)
    for name in HOOK_NAMES:
        assert hasattr(host.manager.hook, name)


class _EventLog:
    """An ``execution_event`` observer that keeps what it saw."""

    def __init__(self) -> None:
        self.events: list[ExecutionEvent] = []

    @hookimpl
    def execution_event(self, event: ExecutionEvent) -> None:
        self.events.append(event)


async def test_observers_see_submissions_retries_and_failures() -> None:
    from un_async import AsyncClient, NotFoundError, RetryPolicy
    from un_async.testing import TEST_PUBLIC_KEY, TEST_SECRET_KEY, FakeUnsandbox, Fault

    observer = _EventLog()
    host = PluginHost(load_entry_points=False, plugins=[observer])
    async with FakeUnsandbox(mode="sync") as fake:
        fake.inject(Fault.status(503, method="POST", path="/execute", times=2))
        async with AsyncClient(
            base_url=fake.url,
            public_key=TEST_PUBLIC_KEY,
            secret_key=TEST_SECRET_KEY,
            plugins=host,
            retry=RetryPolicy(base_delay=0.01, max_delay=0.02),
        ) as client:
            result = await client.execute_code("python", "print('observed')")
            fake.inject(Fault.status(404, method="POST", path="/execute"))
            with pytest.raises(NotFoundError):
                await client.execute_code("python", "print('missing')")
    kinds = [event.kind for event in observer.events]
    assert kinds.count("retry") == 2
    assert {event.detail["status"] for event in observer.events if event.kind == "retry"} == {503}
    assert ("finished", result.job_id) in [(e.kind, e.job_id) for e in observer.events]
    failed = [event for event in observer.events if event.kind == "failed"]
    assert [event.detail["error"] for event in failed] == ["NotFoundError"]
