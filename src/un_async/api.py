"""The seed's module-level functions, backed by one default client per event loop.

Consecutive calls inside one ``asyncio.run()`` share a client and therefore its HTTP
connections. The default client is closed when the loop shuts down its async generators
(``asyncio.run`` and ``asyncio.Runner`` do this), so no "Unclosed client session"
warning appears. Every I/O function accepts ``public_key``/``secret_key`` (both or
neither) and ``account_index``.
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterable
from typing import Unpack

from un_async.core.client import UNSET, AsyncClient
from un_async.core.execution_options import ExecutionOptions
from un_async.core.fanout import DEFAULT_CONCURRENCY, ExecutionStream, ProgressCallback, RequestLike
from un_async.core.models import ExecutionResult, JobInfo, Record, Snapshot
from un_async.core.plugin_host import default_host

__all__ = [
    "cancel_job",
    "delete_snapshot",
    "detect_language",
    "execute_async",
    "execute_code",
    "execute_many",
    "get_default_client",
    "get_job",
    "get_languages",
    "list_jobs",
    "list_snapshots",
    "restore_snapshot",
    "session_snapshot",
    "wait_for_job",
]


class _LoopClients:
    """The default clients of one event loop, keyed by ``account_index``."""

    def __init__(self) -> None:
        self.clients: dict[int | None, AsyncClient] = {}
        self.closers: list[AsyncGenerator[None, None]] = []


_PER_LOOP: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopClients] = (
    weakref.WeakKeyDictionary()
)


async def _close_at_loop_shutdown(client: AsyncClient) -> AsyncGenerator[None, None]:
    """Suspended until the loop's ``shutdown_asyncgens()``, which closes ``client``."""
    try:
        yield
    finally:
        await client.aclose()


def get_default_client(account_index: int | None = None) -> AsyncClient:
    """The running loop's default client (created on first use, from the environment)."""
    loop = asyncio.get_running_loop()
    entry = _PER_LOOP.get(loop)
    if entry is None:
        entry = _PER_LOOP[loop] = _LoopClients()
    client = entry.clients.get(account_index)
    if client is None or client.closed:
        client = AsyncClient(account_index=account_index)
        entry.clients[account_index] = client
        closer = _close_at_loop_shutdown(client)
        # Run the generator to its ``yield``: the loop now tracks it and will close it.
        with contextlib.suppress(StopIteration):
            closer.asend(None).send(None)
        entry.closers.append(closer)
    return client


async def execute_code(
    language: str,
    code: str,
    public_key: str | None = None,
    secret_key: str | None = None,
    *,
    timeout: float | None = UNSET,
    account_index: int | None = None,
    **options: Unpack[ExecutionOptions],
) -> ExecutionResult:
    """Execute code and wait for its final result (see :meth:`AsyncClient.execute_code`)."""
    return await get_default_client(account_index).execute_code(
        language, code, timeout=timeout, public_key=public_key, secret_key=secret_key, **options
    )


async def execute_async(
    language: str,
    code: str,
    public_key: str | None = None,
    secret_key: str | None = None,
    *,
    account_index: int | None = None,
    **options: Unpack[ExecutionOptions],
) -> str:
    """Start an execution and return its job id immediately."""
    return await get_default_client(account_index).execute_async(
        language, code, public_key=public_key, secret_key=secret_key, **options
    )


def execute_many(
    requests: Iterable[RequestLike],
    public_key: str | None = None,
    secret_key: str | None = None,
    *,
    concurrency: int = DEFAULT_CONCURRENCY,
    progress: ProgressCallback | None = None,
    timeout: float | None = UNSET,
    account_index: int | None = None,
) -> ExecutionStream:
    """Run many executions concurrently; ``async for`` over the result yields outcomes as
    they finish (see :meth:`AsyncClient.execute_many`). Call it inside a running loop."""
    return get_default_client(account_index).execute_many(
        requests,
        concurrency=concurrency,
        progress=progress,
        timeout=timeout,
        public_key=public_key,
        secret_key=secret_key,
    )


async def get_job(
    job_id: str,
    public_key: str | None = None,
    secret_key: str | None = None,
    *,
    account_index: int | None = None,
) -> ExecutionResult:
    """A job's current status (a single poll, no waiting)."""
    return await get_default_client(account_index).get_job(
        job_id, public_key=public_key, secret_key=secret_key
    )


async def wait_for_job(
    job_id: str,
    public_key: str | None = None,
    secret_key: str | None = None,
    *,
    timeout: float | None = UNSET,
    account_index: int | None = None,
) -> ExecutionResult:
    """Wait for a job to finish, polling on the seed's backoff schedule with jitter."""
    return await get_default_client(account_index).wait_for_job(
        job_id, timeout=timeout, public_key=public_key, secret_key=secret_key
    )


async def cancel_job(
    job_id: str,
    public_key: str | None = None,
    secret_key: str | None = None,
    *,
    account_index: int | None = None,
) -> Record:
    """Cancel a running job."""
    return await get_default_client(account_index).cancel_job(
        job_id, public_key=public_key, secret_key=secret_key
    )


async def list_jobs(
    public_key: str | None = None,
    secret_key: str | None = None,
    *,
    account_index: int | None = None,
) -> list[JobInfo]:
    """All jobs of the account; ``job["id"]`` is each job's id."""
    return await get_default_client(account_index).list_jobs(
        public_key=public_key, secret_key=secret_key
    )


async def get_languages(
    public_key: str | None = None,
    secret_key: str | None = None,
    *,
    account_index: int | None = None,
) -> list[str]:
    """Supported language identifiers (cached for one hour)."""
    return await get_default_client(account_index).get_languages(
        public_key=public_key, secret_key=secret_key
    )


def detect_language(filename: str | None, source: str | None = None) -> str | None:
    """The language for ``filename`` by extension (then ``source``'s shebang), or None
    (also for a ``None`` or empty name, as in the reference SDK)."""
    return default_host().detect_language(filename or "", source)


async def session_snapshot(
    session_id: str,
    public_key: str | None = None,
    secret_key: str | None = None,
    name: str | None = None,
    hot: bool = False,
    *,
    account_index: int | None = None,
) -> str:
    """Snapshot a session and return the snapshot id."""
    return await get_default_client(account_index).session_snapshot(
        session_id, name=name, hot=hot, public_key=public_key, secret_key=secret_key
    )


async def list_snapshots(
    public_key: str | None = None,
    secret_key: str | None = None,
    *,
    account_index: int | None = None,
) -> list[Snapshot]:
    """All snapshots of the account."""
    return await get_default_client(account_index).list_snapshots(
        public_key=public_key, secret_key=secret_key
    )


async def restore_snapshot(
    snapshot_id: str,
    public_key: str | None = None,
    secret_key: str | None = None,
    *,
    account_index: int | None = None,
) -> Record:
    """Restore a snapshot."""
    return await get_default_client(account_index).restore_snapshot(
        snapshot_id, public_key=public_key, secret_key=secret_key
    )


async def delete_snapshot(
    snapshot_id: str,
    public_key: str | None = None,
    secret_key: str | None = None,
    *,
    otp: str | Callable[[str], Awaitable[str]] | None = None,
    account_index: int | None = None,
) -> Record:
    """Delete a snapshot (``otp`` answers a 428 confirmation challenge)."""
    return await get_default_client(account_index).delete_snapshot(
        snapshot_id, otp=otp, public_key=public_key, secret_key=secret_key
    )
