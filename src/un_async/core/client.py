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
import os
from collections.abc import Awaitable, Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, Self, Unpack

from un_async.core.client_resources import ResourceMethods
from un_async.core.config import ClientConfig
from un_async.core.credential_chain import ClientCredentials, check_key_pair
from un_async.core.credentials import CredentialContext, Credentials
from un_async.core.errors import ClientClosedError, ValidationError
from un_async.core.events import EventKind, ExecutionEvent
from un_async.core.execution_options import ExecutionOptions, InputFiles
from un_async.core.executor import BackendContext, BaseExecutor, as_executor
from un_async.core.fanout import DEFAULT_CONCURRENCY, ExecutionStream, ProgressCallback, RequestLike
from un_async.core.governor import ConcurrencyGovernor
from un_async.core.id_checks import path_segment
from un_async.core.job_lifecycle import JobLifecycle
from un_async.core.language_list import LanguageList
from un_async.core.models import ExecutionRequest, ExecutionResult, JobInfo, Record
from un_async.core.plugin_host import PluginHost, default_host
from un_async.core.retry import RetryPolicy

__all__ = ["UNSET", "AsyncClient", "InputFiles"]

UNSET: Any = object()
"""Default of ``timeout=`` parameters: use the client's configured wait deadline."""


class AsyncClient(ResourceMethods):
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
        executor = None if backend is None or isinstance(backend, str) else as_executor(backend)
        check_key_pair(public_key, secret_key)
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
        self.plugins = plugins = plugins or default_host()
        self._observed = plugins.has_event_observers()
        self._executor = executor or BackendContext(
            name=config.backend,
            config=config,
            plugins=plugins,
            environ=self._environ,
            options=dict(backend_options or {}),
        ).build()
        context = CredentialContext(
            public_key=public_key,
            secret_key=secret_key,
            account_index=account_index,
            environ=self._environ,
        )
        self._credentials = ClientCredentials(
            plugins.credential_providers, context, required=self._executor.requires_credentials
        )
        self._lifecycle = JobLifecycle(
            self._executor, config, emit=self._emit, observed=self._observed
        )
        self._governor = ConcurrencyGovernor.for_config(config)
        own_check = not self._executor.cache_languages  # the backend checks languages itself
        cache = None if own_check else plugins.languages_cache(config)
        self._languages = LanguageList(cache, precheck=not own_check)
        self._result_cache = plugins.result_cache(config)
        self._closed = False

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
        await self._executor.aclose()

    @property
    def closed(self) -> bool:
        """True once :meth:`aclose` has run."""
        return self._closed

    # -- credentials ----------------------------------------------------------------------

    async def credentials(self) -> Credentials:
        """The client's credentials, resolved on first use and then reused."""
        return await self._credentials.resolved()

    async def _resolve(self, public_key: str | None, secret_key: str | None) -> Credentials:
        if self._closed:  # fail at once: retrying cannot reopen a closed client
            raise ClientClosedError("the client is closed")
        return await self._credentials.for_call(public_key, secret_key)

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
        await self._languages.check(request.language)
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
        await self._languages.check(request.language)
        credentials = await self._resolve(public_key, secret_key)
        result = await self._lifecycle.submit(
            credentials, request, wait=False, deadline=None, cancel=self.config.cancel_on_abandon
        )
        if result.job_id is None:
            from un_async.core.service_errors import TransportError

            raise TransportError("the server accepted the execution but returned no job_id")
        return result.job_id

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

        async def fetch() -> list[str]:
            credentials = await self._resolve(public_key, secret_key)
            return await self._executor.get_languages(credentials)

        return await self._languages.get(fetch, refresh=refresh)

    def detect_language(self, filename: str, source: str | None = None) -> str | None:
        """The language of ``filename`` (by extension, then ``source``'s shebang)."""
        return self.plugins.detect_language(filename, source)
