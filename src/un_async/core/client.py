"""AsyncClient: the SDK's main object.

A client owns one backend (and through it one HTTP session), resolves credentials once,
and turns the backend's single operations into the SDK's behaviour: waiting for jobs
with a deadline, cancelling abandoned jobs, caching languages, limiting concurrency.
Use it as an async context manager, or call :meth:`AsyncClient.aclose`::

    async with AsyncClient() as client:
        result = await client.execute_code("python", "print(42)")
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
from collections.abc import Awaitable, Callable, Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self, TypeVar, Unpack, cast

from un_async.core.config import ClientConfig
from un_async.core.credentials import CredentialContext, Credentials
from un_async.core.errors import (
    ClientClosedError,
    ConfigurationError,
    CredentialsError,
    JobTimeoutError,
    ValidationError,
)
from un_async.core.events import EventKind, ExecutionEvent
from un_async.core.execution_options import ExecutionOptions, InputFiles
from un_async.core.executor import BackendContext, BaseExecutor, SudoCallback, as_executor
from un_async.core.fanout import DEFAULT_CONCURRENCY, ExecutionStream, ProgressCallback, RequestLike
from un_async.core.governor import ConcurrencyGovernor
from un_async.core.ids import path_segment
from un_async.core.job_lifecycle import JobLifecycle
from un_async.core.models import (
    ExecutionRequest,
    ExecutionResult,
    JobInfo,
    Record,
    Snapshot,
    check_known_language,
)
from un_async.core.plugins import PluginHost, default_host
from un_async.core.resolve import resolve_credentials
from un_async.core.retry import RetryPolicy

if TYPE_CHECKING:
    from un_async.core.waiting import JobWaiter
    from un_async.resources import (
        GeneratedImages,
        Health,
        Images,
        Keys,
        Services,
        Sessions,
        Snapshots,
    )

__all__ = ["UNSET", "AsyncClient", "InputFiles"]  # InputFiles: re-exported

log = logging.getLogger("un_async")
T = TypeVar("T")

UNSET: Any = object()
"""Default of ``timeout=`` parameters: use the client's configured wait deadline."""

NO_CREDENTIALS = Credentials("", "", "none")
"""Passed to a backend whose ``requires_credentials`` is False when no keys were given."""


class AsyncClient:
    """An unsandbox client bound to one event loop.

    Arguments override :class:`ClientConfig` fields (and the environment:
    ``UNSANDBOX_API_URL``, ``UN_ASYNC_BACKEND``). ``public_key``/``secret_key`` or
    ``account_index`` select credentials (see the README for the full resolution order).
    ``backend`` is a backend name (``"unsandbox"``, ``"local"``, ``"replay"`` or one a plugin
    registers) or a backend object (:class:`~un_async.core.executor.BaseExecutor`, or any
    object with its required operations); anything else is a :class:`TypeError`.
    ``backend_options`` are the named backend's own settings. ``timeout`` is the default
    deadline, in seconds, of every wait (``None``: no deadline).
    """

    def __init__(
        self,
        *,
        public_key: str | None = None,
        secret_key: str | None = None,
        account_index: int | None = None,
        base_url: str | None = None,
        backend: str | BaseExecutor | object | None = None,
        backend_options: Mapping[str, Any] | None = None,
        timeout: float | None = UNSET,
        request_timeout: float | None = None,
        retry: RetryPolicy | None = None,
        max_concurrency: int | None = None,
        cancel_on_abandon: bool | None = None,
        result_cache: bool | None = None,
        languages_cache_path: Path | str | bool | None = None,
        allow_insecure_http: bool | None = None,
        shared_polling: bool | None = None,
        config: ClientConfig | None = None,
        plugins: PluginHost | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        backend_object = None if backend is None or isinstance(backend, str) else backend
        executor = None if backend_object is None else as_executor(backend_object)
        if (public_key is None) != (secret_key is None):
            missing = "secret_key" if secret_key is None else "public_key"
            raise CredentialsError(
                f"public_key and secret_key must be given together; {missing} is missing"
            )
        self._environ = dict(os.environ if environ is None else environ)
        overrides = {
            "base_url": base_url,
            "backend": backend if isinstance(backend, str) else None,
            "request_timeout": request_timeout,
            "retry": retry,
            "max_concurrency": max_concurrency,
            "cancel_on_abandon": cancel_on_abandon,
            "result_cache": result_cache,
            "languages_cache_path": languages_cache_path,
            "allow_insecure_http": allow_insecure_http,
            "shared_polling": shared_polling,
        }
        self.config = config = ClientConfig.from_arguments(
            config, self._environ, overrides, wait_timeout=timeout, unset=UNSET
        )
        self.plugins = plugins or default_host()
        self._context = CredentialContext(
            public_key=public_key,
            secret_key=secret_key,
            account_index=account_index,
            environ=self._environ,
        )
        self._credentials: Credentials | None = None
        self._credentials_lock: asyncio.Lock | None = None
        self._observed = self.plugins.has_event_observers()
        self._executor = executor or self._make_backend(backend_options or {})
        self._waiter_instance: JobWaiter | None = None
        self._lifecycle = JobLifecycle(
            self._executor,
            cancel_timeout=config.abandon_cancel_timeout,
            cancel_grace=config.abandon_cancel_grace,
            emit=self._emit,
        )
        self._governor = ConcurrencyGovernor(
            config.max_concurrency,
            backoff_base=config.retry.base_delay,
            backoff_max=config.retry.max_delay,
            retry_after_cap=config.retry.retry_after_cap,
            resubmit=config.retry.max_attempts > 1,
        )
        cache_languages = self._executor.cache_languages
        self._languages_cache = self.plugins.languages_cache(config) if cache_languages else None
        self._result_cache = self.plugins.result_cache(config)
        self._known_languages: frozenset[str] | None = None
        self._languages_lock: asyncio.Lock | None = None
        self._closed = False

    def _make_backend(self, options: Mapping[str, Any]) -> BaseExecutor:
        name = self.config.backend
        factories = self.plugins.backend_factories()
        factory = factories.get(name)
        if factory is None:
            known = ", ".join(sorted(factories)) or "none"
            raise ConfigurationError(f"unknown backend {name!r} (available: {known})")
        context = BackendContext(
            name=name,
            config=self.config,
            plugins=self.plugins,
            environ=self._environ,
            options=dict(options),
        )
        built = factory(context)
        try:
            return as_executor(built)
        except TypeError as exc:
            raise ConfigurationError(f"backend {name!r}: the factory returned {exc}") from None

    @property
    def _waiter(self) -> JobWaiter:
        """The poller for backends without a native wait, built on first use."""
        if self._waiter_instance is None:
            from un_async.core.shared_polling import SharedPollingWaiter
            from un_async.core.waiting import PerJobWaiter, WaitPolicy

            policy = WaitPolicy(
                schedule=self.config.poll_schedule,
                jitter=self.config.poll_jitter,
                retry_after_cap=self.config.retry.retry_after_cap,
            )
            self._waiter_instance = (
                SharedPollingWaiter(self._executor_poll, self._executor.list_job_states, policy)
                if self.config.shared_polling
                else PerJobWaiter(self._executor_poll, policy)
            )
        return self._waiter_instance

    async def _wait_final(
        self,
        credentials: Credentials,
        job_id: str,
        deadline: float | None,
        last: ExecutionResult | None,
    ) -> ExecutionResult:
        """The job's final result: the backend's own wait when it has one, else polling."""
        if not self._executor.native_wait:
            return await self._waiter.wait(credentials, job_id, deadline=deadline, last=last)
        try:
            if deadline is None:
                return await self._executor.wait_job(credentials, job_id)
            async with asyncio.timeout_at(deadline):
                return await self._executor.wait_job(credentials, job_id)
        except TimeoutError as exc:
            if isinstance(exc, JobTimeoutError):
                raise
            raise JobTimeoutError(
                f"job {job_id} did not finish before the deadline", job_id=job_id, last_state=last
            ) from None

    @property
    def executor(self) -> BaseExecutor:
        """The backend this client uses."""
        return self._executor

    @property
    def governor(self) -> ConcurrencyGovernor:
        """The adaptive limit on this client's in-flight executions."""
        return self._governor

    def __repr__(self) -> str:
        return f"AsyncClient(base_url={self.config.base_url!r}, backend={self._executor.name!r})"

    # -- lifecycle ------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Finish background cancellations and close the backend; idempotent."""
        if self._closed:
            return
        self._closed = True
        await self._lifecycle.aclose()
        if self._waiter_instance is not None:
            await self._waiter_instance.aclose()
        await self._executor.aclose()

    @property
    def closed(self) -> bool:
        """True once :meth:`aclose` has run."""
        return self._closed

    # -- credentials ----------------------------------------------------------------------

    async def credentials(self) -> Credentials:
        """The client's credentials, resolved on first use and then reused."""
        if self._credentials is None:
            if self._credentials_lock is None:
                self._credentials_lock = asyncio.Lock()
            async with self._credentials_lock:
                if self._credentials is None:
                    self._credentials = await resolve_credentials(
                        self.plugins.credential_providers(), self._context
                    )
                    log.debug("using credentials %s", self._credentials)
        return self._credentials

    async def _resolve(self, public_key: str | None, secret_key: str | None) -> Credentials:
        if self._closed:  # fail at once: retrying cannot reopen a closed client
            raise ClientClosedError("the client is closed")
        if public_key is None and secret_key is None:
            if not self._executor.requires_credentials:
                return NO_CREDENTIALS  # e.g. replay from a cassette
            return await self.credentials()
        if public_key and secret_key:
            return Credentials(public_key, secret_key, "explicit")
        missing = "secret_key" if not secret_key else "public_key"
        raise CredentialsError(
            f"public_key and secret_key must be given together; {missing} is missing"
        )

    # -- execution ------------------------------------------------------------------------

    async def execute_code(
        self,
        language: str,
        code: str,
        *,
        timeout: float | None = UNSET,
        cancel_on_timeout: bool | None = None,
        public_key: str | None = None,
        secret_key: str | None = None,
        **options: Unpack[ExecutionOptions],
    ) -> ExecutionResult:
        """Run code and return its final result.

        A program that exits non-zero is a normal result. ``timeout`` (seconds) bounds
        the whole call; when it passes — or the awaiting task is cancelled — the job is
        cancelled on the server (unless ``cancel_on_timeout=False`` or the client was
        built with ``cancel_on_abandon=False``) and :class:`JobTimeoutError` (or
        ``CancelledError``) is raised.

        Arguments are validated before any request. Once the client knows the service's
        languages (an earlier :meth:`get_languages` or a fresh languages cache), an
        unknown ``language`` raises :class:`ValidationError` naming close matches;
        before that only its form is checked and the server decides. Executions share
        the client's :attr:`governor`: a 429 ``concurrency_limit_reached`` lowers its
        limit and the submission is re-sent until ``timeout``.
        """
        request = ExecutionRequest(language=language, code=code, **options)
        return await self.run(
            request,
            timeout=timeout,
            cancel_on_timeout=cancel_on_timeout,
            public_key=public_key,
            secret_key=secret_key,
        )

    async def run(
        self,
        request: ExecutionRequest,
        *,
        timeout: float | None = UNSET,
        cancel_on_timeout: bool | None = None,
        public_key: str | None = None,
        secret_key: str | None = None,
    ) -> ExecutionResult:
        """:meth:`execute_code` for a prepared :class:`ExecutionRequest`."""
        await self._check_language(request.language)
        credentials = await self._resolve(public_key, secret_key)
        if self._result_cache is not None:
            cached = await self._result_cache.get(request)
            if cached is not None:
                return cached
        deadline = self._deadline(timeout)
        cancel = self.config.cancel_on_abandon if cancel_on_timeout is None else cancel_on_timeout
        try:
            async with self._governor.execution(
                lambda: self._lifecycle.submit(
                    credentials, request, wait=True, deadline=deadline, cancel=cancel
                ),
                deadline=deadline,
            ) as result:
                if not result.is_final:
                    assert result.job_id is not None
                    result = await self._lifecycle.wait(
                        self._wait_final,
                        credentials,
                        result.job_id,
                        deadline=deadline,
                        last=result,
                        cancel=cancel,
                        cancel_if_abandoned=cancel,
                    )
        except Exception as exc:
            self._emit("failed", None, error=type(exc).__name__)
            raise
        self._emit("finished", result.job_id, status=result.status.value)
        if self._result_cache is not None and result.is_final:
            await self._result_cache.put(request, result)
        return result

    def execute_many(
        self,
        requests: Iterable[RequestLike],
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
        progress: ProgressCallback | None = None,
        timeout: float | None = UNSET,
        cancel_on_timeout: bool | None = None,
        public_key: str | None = None,
        secret_key: str | None = None,
    ) -> ExecutionStream:
        """Run many executions, at most ``concurrency`` at once; iterate the returned
        :class:`~un_async.core.fanout.ExecutionStream` (``async for``) for outcomes in
        completion order. A failing item yields an outcome carrying its error; closing or
        leaving the stream cancels the rest. ``timeout`` applies to each execution."""

        def run(request: ExecutionRequest) -> Awaitable[ExecutionResult]:
            return self.run(
                request,
                timeout=timeout,
                cancel_on_timeout=cancel_on_timeout,
                public_key=public_key,
                secret_key=secret_key,
            )

        return ExecutionStream(run, requests, concurrency=concurrency, progress=progress)

    async def execute_async(
        self,
        language: str,
        code: str,
        *,
        public_key: str | None = None,
        secret_key: str | None = None,
        **options: Unpack[ExecutionOptions],
    ) -> str:
        """Start an execution and return its job id without waiting."""
        request = ExecutionRequest(language=language, code=code, **options)
        await self._check_language(request.language)
        credentials = await self._resolve(public_key, secret_key)
        result = await self._lifecycle.submit(
            credentials, request, wait=False, deadline=None, cancel=self.config.cancel_on_abandon
        )
        if result.job_id is None:
            from un_async.core.service_errors import TransportError

            raise TransportError("the server accepted the execution but returned no job_id")
        return result.job_id

    async def _executor_poll(self, credentials: Credentials, job_id: str) -> ExecutionResult:
        result = await self._executor.poll_job(credentials, job_id)
        if self._observed:
            self._emit("polled", job_id, status=result.status.value)
        return result

    async def _check_language(self, language: str) -> None:
        """Reject a language missing from the known list (the last ``get_languages()``
        answer, else a fresh languages cache, read once); with no list, accept it."""
        if self._known_languages is None and self._languages_cache is not None:
            if self._languages_lock is None:
                self._languages_lock = asyncio.Lock()
            async with self._languages_lock:
                if self._known_languages is None and self._languages_cache is not None:
                    cached = await self._languages_cache.load()
                    self._known_languages = frozenset(cached or ())
        if self._known_languages is not None:
            check_known_language(language, self._known_languages)

    def _deadline(self, timeout: float | None) -> float | None:
        seconds = self.config.wait_timeout if timeout is UNSET else timeout
        if seconds is None:
            return None
        if seconds <= 0:
            raise ValidationError(f"timeout must be positive, got {seconds!r}")
        return asyncio.get_running_loop().time() + seconds

    def _emit(self, kind: EventKind, job_id: str | None, **detail: Any) -> None:
        if self._observed:
            self.plugins.emit(ExecutionEvent(kind=kind, job_id=job_id, detail=detail))

    # -- jobs -----------------------------------------------------------------------------

    async def get_job(
        self, job_id: str, *, public_key: str | None = None, secret_key: str | None = None
    ) -> ExecutionResult:
        """A job's current state (one request; no waiting)."""
        credentials = await self._resolve(public_key, secret_key)
        return await self._executor.get_job(credentials, job_id)

    async def wait_for_job(
        self,
        job_id: str,
        *,
        timeout: float | None = UNSET,
        cancel_on_timeout: bool = False,
        public_key: str | None = None,
        secret_key: str | None = None,
    ) -> ExecutionResult:
        """Wait until the job is final and return its result.

        ``timeout`` (seconds) bounds the wait; when it passes :class:`JobTimeoutError`
        is raised with the last state seen. The job keeps running unless
        ``cancel_on_timeout=True`` (you started it, you own it).
        """
        credentials = await self._resolve(public_key, secret_key)
        deadline = self._deadline(timeout)
        path_segment("job_id", job_id)
        return await self._lifecycle.wait(
            self._wait_final,
            credentials,
            job_id,
            deadline=deadline,
            last=None,
            cancel=cancel_on_timeout,
            cancel_if_abandoned=False,
        )

    async def cancel_job(
        self, job_id: str, *, public_key: str | None = None, secret_key: str | None = None
    ) -> Record:
        """Cancel a job; the reply has at least ``job_id`` and ``status``."""
        credentials = await self._resolve(public_key, secret_key)
        return await self._executor.cancel_job(credentials, job_id)

    async def list_jobs(
        self, *, public_key: str | None = None, secret_key: str | None = None
    ) -> list[JobInfo]:
        """All jobs of the account."""
        credentials = await self._resolve(public_key, secret_key)
        return await self._executor.list_jobs(credentials)

    # -- languages ------------------------------------------------------------------------

    async def get_languages(
        self,
        *,
        refresh: bool = False,
        public_key: str | None = None,
        secret_key: str | None = None,
    ) -> list[str]:
        """The service's languages; cached for an hour in ``~/.unsandbox/languages.json``.

        ``refresh=True`` skips the cached copy (and updates it).
        """
        cache = self._languages_cache
        if cache is not None and not refresh:
            cached = await cache.load()
            if cached is not None:
                self._known_languages = frozenset(cached)
                return cached
        credentials = await self._resolve(public_key, secret_key)
        languages = await self._executor.get_languages(credentials)
        self._known_languages = frozenset(languages)
        if cache is not None:
            await cache.store(languages)
        return languages

    def detect_language(self, filename: str, source: str | None = None) -> str | None:
        """The language of ``filename`` (by extension, then ``source``'s shebang)."""
        return self.plugins.detect_language(filename, source)

    # -- snapshots ------------------------------------------------------------------------

    async def session_snapshot(
        self,
        session_id: str,
        *,
        name: str | None = None,
        hot: bool = False,
        public_key: str | None = None,
        secret_key: str | None = None,
    ) -> str:
        """Snapshot a session (``hot=True``: without freezing it); returns the snapshot id."""
        credentials = await self._resolve(public_key, secret_key)
        return await self._executor.create_snapshot(credentials, session_id, name=name, hot=hot)

    async def list_snapshots(
        self, *, public_key: str | None = None, secret_key: str | None = None
    ) -> list[Snapshot]:
        """All snapshots of the account."""
        credentials = await self._resolve(public_key, secret_key)
        return await self._executor.list_snapshots(credentials)

    async def restore_snapshot(
        self, snapshot_id: str, *, public_key: str | None = None, secret_key: str | None = None
    ) -> Record:
        """Restore a snapshot; the reply describes the restored resource."""
        credentials = await self._resolve(public_key, secret_key)
        return await self._executor.restore_snapshot(credentials, snapshot_id)

    async def delete_snapshot(
        self,
        snapshot_id: str,
        *,
        otp: str | Callable[[str], Awaitable[str]] | None = None,
        public_key: str | None = None,
        secret_key: str | None = None,
    ) -> Record:
        """Delete a snapshot.

        If the server asks for confirmation (HTTP 428), ``otp`` answers it: a one-time
        password, or an async callback receiving the ``challenge_id`` and returning one.
        Without ``otp`` a :class:`SudoRequiredError` carrying the ``challenge_id`` is raised.
        """
        credentials = await self._resolve(public_key, secret_key)
        return await self._executor.delete_snapshot(
            credentials, snapshot_id, sudo=_sudo_callback(otp)
        )

    # -- resources (un_async.resources; imported on first use) ---------------------------

    @functools.cached_property
    def sessions(self) -> Sessions:
        """Interactive sessions: list, create, shell, freeze, boost, snapshot, delete."""
        from un_async.resources import Sessions

        return Sessions(self)

    @functools.cached_property
    def services(self) -> Services:
        """Persistent services: deploy, resize, domains, logs, env vault, execute, ..."""
        from un_async.resources import Services

        return Services(self)

    @functools.cached_property
    def snapshots(self) -> Snapshots:
        """Snapshots: create, get, restore, lock, clone, delete."""
        from un_async.resources import Snapshots

        return Snapshots(self)

    @functools.cached_property
    def images(self) -> Images:
        """Portable images: publish, share, transfer, spawn, clone."""
        from un_async.resources import Images

        return Images(self)

    @functools.cached_property
    def keys(self) -> Keys:
        """The key pair's validation (``client.keys.validate()``)."""
        from un_async.resources import Keys

        return Keys(self)

    async def health(
        self, *, public_key: str | None = None, secret_key: str | None = None
    ) -> Health:
        """``GET /health``: the service's status (needs no credentials)."""
        from un_async.resources.extras import Extras

        return await Extras(self).health(public_key=public_key, secret_key=secret_key)

    async def generate_image(self, prompt: str, **options: Any) -> GeneratedImages:
        """``POST /image``: AI images for ``prompt`` (``model``, ``size``, ``quality``,
        ``n``, ``public_key``, ``secret_key``; see :meth:`Extras.generate_image`)."""
        from un_async.resources.extras import Extras

        return await Extras(self).generate_image(prompt, **options)


def _sudo_callback(otp: str | Callable[[str], Awaitable[str]] | None) -> SudoCallback | None:
    if otp is None:
        return None
    if callable(otp):
        return cast(SudoCallback, otp)
    code = otp

    async def answer(challenge_id: str) -> str:
        return code

    return answer
