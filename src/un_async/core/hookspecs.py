"""The un_async plugin hooks (pluggy project name ``"un_async"``).

Plugins are modules or objects with functions marked ``@hookimpl``; third-party plugins
are loaded from the ``un_async`` entry-point group. The built-in behaviour is itself a set
of plugins registered first with ``trylast=True``, so an installed plugin always runs
before a built-in and, for ``firstresult`` hooks, wins when it returns a value.

Hooks are synchronous and cheap. Anything that does I/O is an ``async`` method on an
object a hook registers or returns; an ``async def`` hook implementation is rejected when
the plugin is registered.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Protocol

import pluggy

from un_async.core.credentials import CredentialContext, Credentials
from un_async.core.models import ExecutionRequest, ExecutionResult

if TYPE_CHECKING:
    import click

    from un_async.core.config import ClientConfig
    from un_async.core.events import ExecutionEvent
    from un_async.core.executor import BackendContext, BaseExecutor

__all__ = [
    "PROJECT",
    "BackendFactory",
    "CredentialProvider",
    "LanguagesCache",
    "RegisterBackend",
    "RegisterCredentialProvider",
    "ResultCache",
    "Signer",
    "hookimpl",
    "hookspec",
]

PROJECT = "un_async"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


class CredentialProvider(Protocol):
    """One credential source in the resolution chain.

    ``get_credentials`` returns credentials, or ``None`` when the source has none (the
    chain moves on), or raises :class:`~un_async.CredentialsError` when the source was
    selected but is broken (the chain stops). ``describe`` names the source and, if it
    declined, why, for the error raised when every source declines.
    """

    name: str

    async def get_credentials(self, context: CredentialContext) -> Credentials | None: ...

    def describe(self, context: CredentialContext) -> str: ...


class RegisterCredentialProvider(Protocol):
    """``register(provider, before="environment")``: place a provider in the chain.

    Without ``before``/``after`` the provider is appended after the built-in sources.
    """

    def __call__(
        self, provider: CredentialProvider, *, before: str | None = None, after: str | None = None
    ) -> None: ...


class Signer(Protocol):
    """Produces the authentication headers for one request."""

    def sign(
        self, credentials: Credentials, *, timestamp: int, method: str, path: str, body: bytes
    ) -> Mapping[str, str]: ...


class LanguagesCache(Protocol):
    """Stores the service's language list between runs."""

    async def load(self) -> list[str] | None:
        """The cached list if present and fresh, else ``None``; never raises for bad files."""
        ...

    async def store(self, languages: list[str]) -> None:
        """Save the list (atomically); failures are logged, not raised."""
        ...


class ResultCache(Protocol):
    """An optional cache of final execution results, keyed by the request."""

    async def get(self, request: ExecutionRequest) -> ExecutionResult | None: ...

    async def put(self, request: ExecutionRequest, result: ExecutionResult) -> None: ...


BackendFactory = Callable[["BackendContext"], "BaseExecutor"]
"""Builds a backend from its :class:`~un_async.core.executor.BackendContext` (the client's
config, the plugin host, the environment and the backend's own options)."""


class RegisterBackend(Protocol):
    """``register("name", factory)``: make a backend selectable by name."""

    def __call__(self, name: str, factory: BackendFactory) -> None: ...


@hookspec
def register_credential_providers(register: RegisterCredentialProvider) -> None:
    """Add credential sources to the resolution chain.

    Called once per plugin host. The built-in chain, in order, is ``explicit`` (keys passed
    to the call or client), ``account-index`` (an explicit ``account_index=``),
    ``environment`` (``UNSANDBOX_PUBLIC_KEY``/``UNSANDBOX_SECRET_KEY``), ``home-accounts``
    (``~/.unsandbox/accounts.csv``) and ``local-accounts`` (``./accounts.csv``). Use
    ``before=``/``after=`` with those names to place a provider.
    """


@hookspec(firstresult=True)
def get_signer(backend: str) -> Signer | None:
    """Return the request signer for the backend named ``backend``.

    First non-``None`` result wins; the built-in HMAC-SHA256 signer answers for every
    backend.
    """


@hookspec(firstresult=True)
def detect_language(filename: str, source: str | None) -> str | None:
    """Return the language of ``filename`` (and its ``source`` text, when known).

    First non-``None`` result wins; return ``None`` to let other detectors decide. The
    built-in detector maps extensions case-insensitively, then reads a shebang line.
    """


@hookspec(firstresult=True)
def get_languages_cache(config: ClientConfig) -> LanguagesCache | None:
    """Return the cache ``get_languages()`` uses, or ``None`` for no caching.

    The built-in cache is ``~/.unsandbox/languages.json`` (one-hour lifetime), or
    ``config.languages_cache_path`` when set; it is disabled when that is ``False``.
    """


@hookspec(firstresult=True)
def get_result_cache(config: ClientConfig) -> ResultCache | None:
    """Return a cache of final execution results, or ``None`` (the default).

    The built-in in-memory cache is enabled by ``AsyncClient(result_cache=True)``. Only
    deterministic programs should be cached: a hit skips the execution entirely.
    """


@hookspec
def register_backends(register: RegisterBackend) -> None:
    """Register backends selectable with ``AsyncClient(backend="name")`` or
    ``UN_ASYNC_BACKEND``: ``register("name", factory)``, where ``factory(context)`` returns a
    :class:`~un_async.core.executor.BaseExecutor`. The built-ins are ``unsandbox``,
    ``local`` and ``replay``; a plugin registering the same name replaces a built-in.
    Called once per plugin host, through pluggy (hook wrappers see the call)."""


@hookspec
def execution_event(event: ExecutionEvent) -> None:
    """Observe the execution lifecycle (submitted, polled, finished, retried, cancelled).

    Observers must not block or raise; the return value is ignored.
    """


@hookspec
def register_commands(cli: click.Group) -> None:
    """Add commands to the ``un-async`` command line: ``cli`` is its root
    :class:`click.Group`; call ``cli.add_command(command)`` or decorate functions with
    ``@cli.command()``. Called once per command-line run, only when a command that is not
    a built-in is asked for or the commands are listed (``--help``); never when the SDK is
    used as a library. A built-in command keeps its name."""


HOOK_NAMES: tuple[str, ...] = (
    "register_credential_providers",
    "get_signer",
    "detect_language",
    "get_languages_cache",
    "get_result_cache",
    "register_backends",
    "execution_event",
    "register_commands",
)
