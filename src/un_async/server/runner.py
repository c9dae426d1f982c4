"""Listening: start the service on ``host:port``, announce it, serve until stopped."""

from __future__ import annotations

import asyncio
import shlex
import signal
import sys
from collections.abc import Callable, Mapping
from typing import IO, Any

from aiohttp import web

from un_async.core.client import AsyncClient
from un_async.server.accounts import ServerAccount
from un_async.server.auth import RequestVerifier
from un_async.server.routes import ExecutionService, RequestLog

__all__ = ["export_lines", "serve_until_stopped"]


def export_lines(url: str, account: ServerAccount) -> str:
    """Shell ``export`` lines pointing any unsandbox client at the server."""
    values = {
        "UNSANDBOX_API_URL": url,
        "UNSANDBOX_PUBLIC_KEY": account.public_key,
        "UNSANDBOX_SECRET_KEY": account.secret_key,
    }
    return "".join(f"export {name}={shlex.quote(value)}\n" for name, value in values.items())


async def serve_until_stopped(
    *,
    host: str,
    port: int,
    backend: str,
    backend_options: Mapping[str, Any] | None,
    account: ServerAccount,
    sync_wait: float,
    announce: Callable[[str, list[str]], None],
    request_log: RequestLog | None,
    stdout: IO[str] | None = None,
) -> None:
    """Serve until SIGINT/SIGTERM. Before listening the backend is started (languages
    probed), so a broken backend fails here; once listening, the export lines go to
    ``stdout`` and ``announce(url, languages)`` is called."""
    out = stdout or sys.stdout
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    client = AsyncClient(
        backend=backend,
        backend_options=backend_options,
        languages_cache_path=False,
        timeout=None,
    )
    try:
        languages = await client.get_languages()
        service = ExecutionService(
            client,
            RequestVerifier({account.public_key: account.secret_key}),
            sync_wait=sync_wait,
            request_log=request_log,
        )
        runner = web.AppRunner(
            service.build_app(), access_log=None, handle_signals=False, shutdown_timeout=1.0
        )
        await runner.setup()
        try:
            site = web.TCPSite(runner, host, port)
            await site.start()
            bound = runner.addresses[0][1]
            shown = f"[{host}]" if ":" in host else host
            url = f"http://{shown}:{bound}"
            out.write(export_lines(url, account))
            out.flush()
            announce(url, languages)
            await stop.wait()
        finally:
            await runner.cleanup()
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
        await client.aclose()
