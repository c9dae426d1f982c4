"""The backend contract: :class:`BaseExecutor`, what every backend implements.

A backend performs single operations — the unsandbox backend speaks HTTP, the local
backend runs programs on this machine, the replay backend reads a cassette. The client owns
waiting, deadlines, credentials and concurrency.

Five operations are required (:data:`REQUIRED_OPERATIONS`): ``submit``, ``get_job``,
``cancel_job``, ``get_languages`` and ``aclose``. Everything else is a capability with a
default here: job listing, snapshots and the resource API (:meth:`BaseExecutor.api_call`)
raise :class:`~un_async.core.errors.UnsupportedOperationError` unless a backend overrides
them. An object that is not a :class:`BaseExecutor` but has every required operation is
accepted through :func:`as_executor`; anything else is refused with :class:`TypeError` —
never replaced by another backend.
"""

from __future__ import annotations

import abc
import inspect
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

import attrs

from un_async.core.credentials import Credentials
from un_async.core.errors import ConfigurationError, UnsupportedOperationError
from un_async.core.models import ExecutionRequest, ExecutionResult, JobInfo, Record, Snapshot

if TYPE_CHECKING:
    from un_async.core.config import ClientConfig
    from un_async.core.plugin_host import PluginHost

__all__ = [
    "REQUIRED_OPERATIONS",
    "BackendContext",
    "BaseExecutor",
    "Executor",
    "SudoCallback",
    "as_executor",
    "record_of",
]

REQUIRED_OPERATIONS = ("submit", "get_job", "cancel_job", "get_languages", "aclose")
"""The coroutine methods an object needs to be accepted as a backend."""


class SudoCallback(Protocol):
    """Returns the one-time password for a 428 challenge (may prompt a user)."""

    async def __call__(self, challenge_id: str) -> str: ...


@attrs.frozen(kw_only=True)
class BackendContext:
    """What a backend factory receives.

    ``options`` are the backend's own settings (``AsyncClient(backend_options={...})``);
    :meth:`setting` falls back to the backend's environment variables, so the core never
    needs to know them.
    """

    name: str
    config: ClientConfig
    plugins: PluginHost
    # Neither is shown in repr: the environment holds secrets, so may the options.
    environ: Mapping[str, str] = attrs.field(factory=lambda: dict(os.environ), repr=False)
    options: Mapping[str, Any] = attrs.field(factory=dict, repr=False)

    def env_name(self, key: str) -> str:
        """The environment variable for setting ``key``: ``UN_ASYNC_<NAME>_<KEY>``."""
        return f"UN_ASYNC_{self.name.upper()}_{key.upper()}"

    def build(self) -> BaseExecutor:
        """The backend registered as :attr:`name`, built from this context."""
        factories = self.plugins.backend_factories()
        factory = factories.get(self.name)
        if factory is None:
            known = ", ".join(sorted(factories)) or "none"
            raise ConfigurationError(f"unknown backend {self.name!r} (available: {known})")
        built = factory(self)
        try:
            return as_executor(built)
        except TypeError as exc:
            raise ConfigurationError(f"backend {self.name!r}: the factory returned {exc}") from None

    def setting(self, key: str, default: Any = None) -> Any:
        """``options[key]``, else the variable :meth:`env_name` (a string), else ``default``."""
        if key in self.options and self.options[key] is not None:
            return self.options[key]
        value = self.environ.get(self.env_name(key))
        return value if value else default


class BaseExecutor(abc.ABC):
    """One backend. Methods take the credentials to act as; they never resolve them.

    Class attributes say what a backend is: ``requires_credentials`` (False: the client
    passes placeholder credentials when the caller gave none), ``native_wait`` (True:
    :meth:`wait_job` awaits completion directly and the client does not poll) and
    ``cache_languages`` (False: the backend checks languages itself, so the client neither
    keeps its language list in the service's languages cache file nor pre-checks a
    language against that list).
    """

    name: str = "backend"
    requires_credentials: bool = True
    native_wait: bool = False
    cache_languages: bool = True

    # -- required -------------------------------------------------------------------------

    @abc.abstractmethod
    async def submit(
        self, credentials: Credentials, request: ExecutionRequest, *, wait: bool
    ) -> ExecutionResult:
        """Start an execution.

        ``wait=True`` may return a final result or a pending job; ``wait=False`` returns a
        pending job at once. Either way the result carries ``job_id`` when a job exists.
        """

    @abc.abstractmethod
    async def get_job(self, credentials: Credentials, job_id: str) -> ExecutionResult:
        """A job's current state (transient failures retried)."""

    @abc.abstractmethod
    async def cancel_job(self, credentials: Credentials, job_id: str) -> Record:
        """Cancel a job; the reply is ``{"job_id": ..., "status": "cancelled"}`` at least."""

    @abc.abstractmethod
    async def get_languages(self, credentials: Credentials) -> list[str]:
        """The language identifiers this backend can run (uncached)."""

    @abc.abstractmethod
    async def aclose(self) -> None:
        """Release connections, processes and other resources; idempotent."""

    # -- jobs: optional -------------------------------------------------------------------

    def unsupported(self, operation: str, hint: str = "") -> UnsupportedOperationError:
        """The error for an operation this backend does not offer."""
        return UnsupportedOperationError(self.name, operation, hint)

    async def poll_job(self, credentials: Credentials, job_id: str) -> ExecutionResult:
        """One request for a job's state, without retries (waiters handle failures)."""
        return await self.get_job(credentials, job_id)

    async def wait_job(self, credentials: Credentials, job_id: str) -> ExecutionResult:
        """Await the job's final state (only when :attr:`native_wait` is True)."""
        raise self.unsupported("wait_job")

    async def list_jobs(self, credentials: Credentials) -> list[JobInfo]:
        """All jobs of the account."""
        raise self.unsupported("list_jobs")

    async def list_job_states(self, credentials: Credentials) -> Mapping[str, Mapping[str, Any]]:
        """The account's jobs as ``{job_id: entry with at least "status"}`` — the cheapest
        listing the backend has; shared polling uses it."""
        return {job.job_id: job for job in await self.list_jobs(credentials)}

    # -- snapshots and the resource API: optional ------------------------------------------

    async def create_snapshot(
        self, credentials: Credentials, session_id: str, *, name: str | None, hot: bool
    ) -> str:
        """Snapshot a session and return the new snapshot's id."""
        raise self.unsupported("create_snapshot")

    async def list_snapshots(self, credentials: Credentials) -> list[Snapshot]:
        """All snapshots of the account."""
        raise self.unsupported("list_snapshots")

    async def restore_snapshot(self, credentials: Credentials, snapshot_id: str) -> Record:
        """Restore a snapshot; the reply describes the restored resource."""
        raise self.unsupported("restore_snapshot")

    async def delete_snapshot(
        self, credentials: Credentials, snapshot_id: str, *, sudo: SudoCallback | None = None
    ) -> Record:
        """Delete a snapshot, answering a 428 challenge with ``sudo`` when given."""
        raise self.unsupported("delete_snapshot")

    async def api_call(
        self,
        credentials: Credentials,
        operation: str,
        method: str,
        path: str,
        *,
        body: Mapping[str, Any] | None = None,
        text: str | None = None,
        query: Mapping[str, str] | None = None,
        sudo: SudoCallback | None = None,
    ) -> Any:
        """One request of the service's resource API (sessions, services, snapshots,
        images, keys), returning the parsed JSON reply.

        ``operation`` names the call (e.g. ``"sessions.create"``) for errors and
        recordings; ``body`` is sent as JSON, ``text`` as ``text/plain``; ``sudo`` answers a
        428 challenge.
        """
        raise self.unsupported(operation)

    def describe(self) -> dict[str, Any]:
        """Facts about this backend for diagnostics (``un-async doctor``); no secrets."""
        return {"backend": self.name}


Executor = BaseExecutor
"""The name earlier releases used for the backend contract."""


class _AdaptedExecutor(BaseExecutor):
    """A duck-typed backend object behind the :class:`BaseExecutor` interface.

    Required operations are forwarded; optional ones are forwarded when the object has
    them (looked up once, here), else the base class's defaults apply.
    """

    _OPTIONAL = (
        "poll_job",
        "wait_job",
        "list_jobs",
        "list_job_states",
        "create_snapshot",
        "list_snapshots",
        "restore_snapshot",
        "delete_snapshot",
        "api_call",
        "describe",
    )

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.name = str(getattr(inner, "name", type(inner).__name__))
        self.requires_credentials = bool(getattr(inner, "requires_credentials", True))
        self.native_wait = bool(getattr(inner, "native_wait", False))
        self.cache_languages = bool(getattr(inner, "cache_languages", True))
        for operation in self._OPTIONAL:
            method = getattr(inner, operation, None)
            if callable(method):
                setattr(self, operation, method)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.inner!r})"

    async def submit(
        self, credentials: Credentials, request: ExecutionRequest, *, wait: bool
    ) -> ExecutionResult:
        result: ExecutionResult = await self.inner.submit(credentials, request, wait=wait)
        return result

    async def get_job(self, credentials: Credentials, job_id: str) -> ExecutionResult:
        result: ExecutionResult = await self.inner.get_job(credentials, job_id)
        return result

    async def cancel_job(self, credentials: Credentials, job_id: str) -> Record:
        reply: Record = await self.inner.cancel_job(credentials, job_id)
        return reply

    async def get_languages(self, credentials: Credentials) -> list[str]:
        languages: list[str] = await self.inner.get_languages(credentials)
        return languages

    async def aclose(self) -> None:
        await self.inner.aclose()


def as_executor(backend: object) -> BaseExecutor:
    """``backend`` as a :class:`BaseExecutor`, or :class:`TypeError` naming what it lacks.

    A :class:`BaseExecutor` is returned as is; another object is accepted when every
    operation in :data:`REQUIRED_OPERATIONS` is a coroutine function on it.
    """
    if isinstance(backend, BaseExecutor):
        return backend
    if isinstance(backend, type):
        raise TypeError(
            f"backend must be a backend name or a backend instance, not the class "
            f"{backend.__name__} (instantiate it first)"
        )
    missing = [
        name
        for name in REQUIRED_OPERATIONS
        if not inspect.iscoroutinefunction(getattr(backend, name, None))
    ]
    if missing:
        raise TypeError(
            f"backend must be a backend name or a BaseExecutor, not {type(backend).__name__}"
            f" (missing async operations: {', '.join(missing)})"
        )
    return _AdaptedExecutor(backend)


def record_of(body: Mapping[str, Any] | None, **defaults: Any) -> Record:
    """A :class:`Record` of ``body`` with ``defaults`` filling keys the body lacks."""
    record = Record(defaults)
    record.update(body or {})
    return record
