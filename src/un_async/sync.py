"""Blocking facade: the same functions, without ``await``.

Each :class:`SyncClient` (and the module-level functions, which share one) runs its
async client on a private event loop in a daemon thread, so the blocking calls work in a
plain script and also from code that already runs an event loop (Jupyter), without
"Event loop is closed" errors. Connections are reused across calls; the loop and its
HTTP session are closed by :meth:`SyncClient.close` or at interpreter exit.

    from un_async import sync
    result = sync.execute_code("python", "print(42)")
"""

from __future__ import annotations

import asyncio
import atexit
import functools
import threading
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Concatenate, ParamSpec, TypeVar

from un_async import api, reference_api
from un_async.core.client import AsyncClient

__all__ = [
    "SyncClient",
    "boost_session",
    "cancel_job",
    "cli_main",
    "clone_snapshot",
    "close",
    "create_service",
    "create_session",
    "delete_service",
    "delete_service_env",
    "delete_session",
    "delete_snapshot",
    "detect_language",
    "execute_async",
    "execute_code",
    "execute_in_service",
    "export_service_env",
    "freeze_service",
    "freeze_session",
    "get_job",
    "get_languages",
    "get_service",
    "get_service_env",
    "get_service_logs",
    "get_session",
    "image",
    "list_jobs",
    "list_services",
    "list_sessions",
    "list_snapshots",
    "lock_service",
    "lock_snapshot",
    "redeploy_service",
    "restore_snapshot",
    "service_snapshot",
    "session_snapshot",
    "set_service_env",
    "set_show_freeze_page",
    "set_unfreeze_on_demand",
    "shell_session",
    "unboost_session",
    "unfreeze_service",
    "unfreeze_session",
    "unlock_service",
    "unlock_snapshot",
    "update_service",
    "validate_keys",
    "wait_for_job",
]

P = ParamSpec("P")
T = TypeVar("T")


class _LoopThread:
    """An event loop running forever in a daemon thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._main, name="un-async-sync", daemon=True)
        self._thread.start()

    def _main(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run ``coroutine`` on the private loop and block until it finishes."""
        if threading.current_thread() is self._thread:
            coroutine.close()
            raise RuntimeError("un_async.sync functions cannot be called from their own loop")
        if self.loop.is_closed():
            coroutine.close()
            raise RuntimeError("this SyncClient is closed")
        future = asyncio.run_coroutine_threadsafe(coroutine, self.loop)
        try:
            return future.result()
        except BaseException:
            future.cancel()  # KeyboardInterrupt: cancel the work (and the server job)
            raise

    def close(self, before_stop: Callable[[], Awaitable[None]] | None = None) -> None:
        """Run ``before_stop``, close async generators, stop the loop and join the thread."""
        if self.loop.is_closed():
            return

        async def shutdown() -> None:
            if before_stop is not None:
                await before_stop()
            await self.loop.shutdown_asyncgens()

        asyncio.run_coroutine_threadsafe(shutdown(), self.loop).result()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join()
        self.loop.close()


def _method(
    method: Callable[Concatenate[AsyncClient, P], Awaitable[T]],
) -> Callable[Concatenate[SyncClient, P], T]:
    def call(self: SyncClient, /, *args: P.args, **kwargs: P.kwargs) -> T:
        async def invoke() -> T:
            return await method(self._client, *args, **kwargs)

        return self._runner.run(invoke())

    call.__name__ = method.__name__
    call.__doc__ = method.__doc__
    return call


class SyncClient:
    """A blocking :class:`~un_async.AsyncClient` (same arguments, same methods)."""

    def __init__(self, **settings: Any) -> None:
        self._runner = _LoopThread()

        async def make() -> AsyncClient:
            return AsyncClient(**settings)

        self._client = self._runner.run(make())

    def __enter__(self) -> SyncClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the HTTP session and stop the private loop; idempotent."""
        self._runner.close(self._client.aclose)

    def detect_language(self, filename: str, source: str | None = None) -> str | None:
        """The language of ``filename`` (no I/O)."""
        return self._client.detect_language(filename, source)

    execute_code = _method(AsyncClient.execute_code)
    execute_async = _method(AsyncClient.execute_async)
    get_job = _method(AsyncClient.get_job)
    wait_for_job = _method(AsyncClient.wait_for_job)
    cancel_job = _method(AsyncClient.cancel_job)
    list_jobs = _method(AsyncClient.list_jobs)
    get_languages = _method(AsyncClient.get_languages)
    session_snapshot = _method(AsyncClient.session_snapshot)
    list_snapshots = _method(AsyncClient.list_snapshots)
    restore_snapshot = _method(AsyncClient.restore_snapshot)
    delete_snapshot = _method(AsyncClient.delete_snapshot)


_SHARED: _LoopThread | None = None
_SHARED_LOCK = threading.Lock()


def _shared() -> _LoopThread:
    global _SHARED
    with _SHARED_LOCK:
        if _SHARED is None or _SHARED.loop.is_closed():
            _SHARED = _LoopThread()
        return _SHARED


def close() -> None:
    """Close the module-level functions' loop and connections (also done at exit)."""
    global _SHARED
    with _SHARED_LOCK:
        runner, _SHARED = _SHARED, None
    if runner is not None:
        runner.close()


atexit.register(close)


def _function(function: Callable[P, Awaitable[T]]) -> Callable[P, T]:
    def call(*args: P.args, **kwargs: P.kwargs) -> T:
        async def invoke() -> T:
            return await function(*args, **kwargs)

        return _shared().run(invoke())

    # Name, docstring and (through __wrapped__) the signature of the async function.
    return functools.update_wrapper(call, function, assigned=("__name__", "__doc__"))


execute_code = _function(api.execute_code)
execute_async = _function(api.execute_async)
get_job = _function(api.get_job)
wait_for_job = _function(api.wait_for_job)
cancel_job = _function(api.cancel_job)
list_jobs = _function(api.list_jobs)
get_languages = _function(api.get_languages)
session_snapshot = _function(api.session_snapshot)
list_snapshots = _function(api.list_snapshots)
restore_snapshot = _function(api.restore_snapshot)
delete_snapshot = _function(api.delete_snapshot)
detect_language = api.detect_language

# The reference SDK's other functions (un_async.reference_api), blocking.
boost_session = _function(reference_api.boost_session)
clone_snapshot = _function(reference_api.clone_snapshot)
create_service = _function(reference_api.create_service)
create_session = _function(reference_api.create_session)
delete_service = _function(reference_api.delete_service)
delete_service_env = _function(reference_api.delete_service_env)
delete_session = _function(reference_api.delete_session)
execute_in_service = _function(reference_api.execute_in_service)
export_service_env = _function(reference_api.export_service_env)
freeze_service = _function(reference_api.freeze_service)
freeze_session = _function(reference_api.freeze_session)
get_service = _function(reference_api.get_service)
get_service_env = _function(reference_api.get_service_env)
get_service_logs = _function(reference_api.get_service_logs)
get_session = _function(reference_api.get_session)
image = _function(reference_api.image)
list_services = _function(reference_api.list_services)
list_sessions = _function(reference_api.list_sessions)
lock_service = _function(reference_api.lock_service)
lock_snapshot = _function(reference_api.lock_snapshot)
redeploy_service = _function(reference_api.redeploy_service)
service_snapshot = _function(reference_api.service_snapshot)
set_service_env = _function(reference_api.set_service_env)
set_show_freeze_page = _function(reference_api.set_show_freeze_page)
set_unfreeze_on_demand = _function(reference_api.set_unfreeze_on_demand)
shell_session = _function(reference_api.shell_session)
unboost_session = _function(reference_api.unboost_session)
unfreeze_service = _function(reference_api.unfreeze_service)
unfreeze_session = _function(reference_api.unfreeze_session)
unlock_service = _function(reference_api.unlock_service)
unlock_snapshot = _function(reference_api.unlock_snapshot)
update_service = _function(reference_api.update_service)
validate_keys = _function(reference_api.validate_keys)
cli_main = reference_api.cli_main
