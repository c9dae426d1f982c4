"""PluginHost: a typed facade over :class:`pluggy.PluginManager`.

pluggy's hook calls return ``Any``; every method here states what a hook produces, so the
rest of the SDK is type-checked. The host registers the built-in plugins (with
``trylast`` implementations), then third-party plugins from the ``un_async`` entry-point
group, then any plugins passed explicitly, and finally checks that every implementation
names a known hook and that no implementation is a coroutine function.

Entry points are loaded by pluggy (through :mod:`importlib.metadata`) only when a quick
look at the installed distributions' metadata
(:func:`~un_async.core.entry_points.may_declare`) finds one that may declare an
``un_async`` entry point: without third-party plugins, :mod:`importlib.metadata` is not
even imported.
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING, cast

import pluggy

from un_async.core import hookspecs
from un_async.core.config import ClientConfig
from un_async.core.entry_points import may_declare
from un_async.core.errors import ConfigurationError
from un_async.core.events import ExecutionEvent
from un_async.core.hookspecs import (
    PROJECT,
    BackendFactory,
    CredentialProvider,
    LanguagesCache,
    ResultCache,
    Signer,
)

if TYPE_CHECKING:
    import click

__all__ = ["PluginHost", "default_host", "set_default_host"]

BUILTIN_PLUGINS = (
    "un_async.plugins.signing",
    "un_async.plugins.credentials",
    "un_async.plugins.detection",
    "un_async.plugins.caching",
    "un_async.backends.registry",
)


class PluginHost:
    """Loads plugins and answers typed questions about them.

    ``load_entry_points=False`` skips installed third-party plugins (useful in tests);
    ``plugins`` are extra plugin objects registered last (so they win).
    """

    def __init__(self, *, load_entry_points: bool = True, plugins: Iterable[object] = ()) -> None:
        self._pm = pluggy.PluginManager(PROJECT)
        self._pm.add_hookspecs(hookspecs)
        for module_name in BUILTIN_PLUGINS:
            module = __import__(module_name, fromlist=["_"])
            self._register_checked(module, name=module_name)
        if load_entry_points and may_declare(PROJECT):
            self._pm.load_setuptools_entrypoints(PROJECT)
            for plugin in self._pm.get_plugins():
                self._reject_coroutines(plugin)
        for plugin in plugins:
            self.register(plugin)
        self._pm.check_pending()
        self._providers: list[CredentialProvider] | None = None
        self._backends: dict[str, BackendFactory] | None = None
        self._lock = threading.Lock()

    @property
    def manager(self) -> pluggy.PluginManager:
        """The underlying pluggy manager (for introspection)."""
        return self._pm

    def register(self, plugin: object, name: str | None = None) -> None:
        """Register a plugin object or module; it takes precedence over earlier ones."""
        self._register_checked(plugin, name=name)
        self._pm.check_pending()
        self._providers = None
        self._backends = None

    def _register_checked(self, plugin: object, *, name: str | None) -> None:
        self._pm.register(plugin, name=name)
        try:
            self._reject_coroutines(plugin)
        except ConfigurationError:
            self._pm.unregister(plugin)
            raise

    def _reject_coroutines(self, plugin: object) -> None:
        for caller in self._pm.get_hookcallers(plugin) or []:
            for impl in caller.get_hookimpls():
                if impl.plugin is plugin and inspect.iscoroutinefunction(impl.function):
                    raise ConfigurationError(
                        f"plugin {impl.plugin_name!r}: hook {caller.name!r} must not be async; "
                        "return an object with async methods instead"
                    )

    def credential_providers(self) -> list[CredentialProvider]:
        """The credential chain, in resolution order."""
        with self._lock:
            if self._providers is None:
                self._providers = _order_providers(self._collect_providers())
            return list(self._providers)

    def _collect_providers(self) -> list[tuple[CredentialProvider, str | None, str | None]]:
        entries: list[tuple[CredentialProvider, str | None, str | None]] = []

        def register(
            provider: CredentialProvider, *, before: str | None = None, after: str | None = None
        ) -> None:
            if before is not None and after is not None:
                raise ConfigurationError(
                    f"credential provider {provider.name!r}: give before= or after=, not both"
                )
            entries.append((provider, before, after))

        # pluggy calls the most recently registered plugins first; register built-ins first.
        for impl in self._pm.hook.register_credential_providers.get_hookimpls():
            impl.function(register=register)
        return entries

    def signer(self, backend: str) -> Signer:
        """The signer for ``backend``."""
        signer = self._pm.hook.get_signer(backend=backend)
        if signer is None:
            raise ConfigurationError(f"no plugin provides a signer for backend {backend!r}")
        return cast(Signer, signer)

    def detect_language(self, filename: str, source: str | None = None) -> str | None:
        """The language of ``filename`` (and ``source``), or ``None`` when unknown."""
        return cast("str | None", self._pm.hook.detect_language(filename=filename, source=source))

    def languages_cache(self, config: ClientConfig) -> LanguagesCache | None:
        """The languages cache for ``config``, or ``None`` when caching is off."""
        return cast("LanguagesCache | None", self._pm.hook.get_languages_cache(config=config))

    def result_cache(self, config: ClientConfig) -> ResultCache | None:
        """The result cache for ``config``, or ``None`` (the default)."""
        return cast("ResultCache | None", self._pm.hook.get_result_cache(config=config))

    def backend_factories(self) -> dict[str, BackendFactory]:
        """Backends by name."""
        with self._lock:
            if self._backends is None:
                found: dict[str, BackendFactory] = {}

                # pluggy calls the last-registered (third-party) plugins first and the
                # trylast built-ins last; register() keeps the first name it sees.
                def keep_first(name: str, factory: BackendFactory) -> None:
                    found.setdefault(name, factory)

                self._pm.hook.register_backends(register=keep_first)
                self._backends = found
            return dict(self._backends)

    def register_commands(self, cli: click.Group) -> None:
        """Let plugins add their commands to the command line's root group ``cli``."""
        self._pm.hook.register_commands(cli=cli)

    def has_event_observers(self) -> bool:
        """True when any plugin observes ``execution_event``."""
        return bool(self._pm.hook.execution_event.get_hookimpls())

    def emit(self, event: ExecutionEvent) -> None:
        """Deliver ``event`` to observers; observer failures never reach the caller."""
        try:
            self._pm.hook.execution_event(event=event)
        except Exception:  # an observer's bug must not break an execution
            import logging

            logging.getLogger("un_async").exception("execution_event observer failed")


def _order_providers(
    entries: list[tuple[CredentialProvider, str | None, str | None]],
) -> list[CredentialProvider]:
    """Place providers: plain ones in registration order, then ``before``/``after`` ones."""
    ordered: list[CredentialProvider] = [
        p for p, before, after in entries if not before and not after
    ]
    pending = [(p, before, after) for p, before, after in entries if before or after]
    while pending:
        progressed = False
        for item in list(pending):
            provider, before, after = item
            anchor = before or after
            names = [p.name for p in ordered]
            if anchor in names:
                index = names.index(anchor) + (0 if before else 1)
                ordered.insert(index, provider)
                pending.remove(item)
                progressed = True
        if not progressed:
            missing = ", ".join(f"{p.name!r} -> {b or a!r}" for p, b, a in pending)
            raise ConfigurationError(f"credential providers name unknown anchors: {missing}")
    return ordered


_DEFAULT: PluginHost | None = None
_DEFAULT_LOCK = threading.Lock()


def default_host() -> PluginHost:
    """The process-wide host (built-ins plus installed plugins), created on first use."""
    global _DEFAULT
    with _DEFAULT_LOCK:
        if _DEFAULT is None:
            _DEFAULT = PluginHost()
        return _DEFAULT


def set_default_host(host: PluginHost | None) -> None:
    """Replace (or with ``None`` reset) the process-wide host; mainly for tests."""
    global _DEFAULT
    with _DEFAULT_LOCK:
        _DEFAULT = host
