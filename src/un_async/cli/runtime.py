"""Running a command's coroutine, with Ctrl-C, and building its client.

:func:`run_async` runs a coroutine on a fresh event loop. The first SIGINT cancels it, so
``async with`` blocks unwind: the client cancels its unfinished jobs on the backend (and
waits for those cancels) before :class:`Interrupted` is raised. A command that wants to
report what finished (``batch``) catches :class:`asyncio.CancelledError` itself.
"""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from un_async.core.client import AsyncClient

__all__ = ["Interrupted", "make_client", "run_async"]

T = TypeVar("T")


class Interrupted(Exception):
    """Ctrl-C stopped the command (its jobs were cancelled first)."""


def run_async(main: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """``main()`` on a new event loop; raises :class:`Interrupted` after a Ctrl-C."""
    interrupted = False

    async def guarded() -> T:
        nonlocal interrupted
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        assert task is not None

        def on_sigint() -> None:
            nonlocal interrupted
            interrupted = True
            task.cancel()

        installed = False
        if threading.current_thread() is threading.main_thread():
            try:
                loop.add_signal_handler(signal.SIGINT, on_sigint)
                installed = True
            except (NotImplementedError, RuntimeError):  # pragma: no cover - Windows
                pass
        try:
            return await main()
        finally:
            if installed:
                loop.remove_signal_handler(signal.SIGINT)

    try:
        return asyncio.run(guarded())
    except asyncio.CancelledError:
        if interrupted:
            raise Interrupted from None
        raise
    except KeyboardInterrupt:
        raise Interrupted from None


def make_client(
    *, backend: str | None, account: int | None = None, timeout: float | None = None
) -> AsyncClient:
    """A client for ``--backend``/``--account``; ``timeout`` (seconds) replaces the default
    wait deadline when given."""
    from un_async.core.client import UNSET, AsyncClient

    return AsyncClient(
        backend=backend or None,
        account_index=account,
        timeout=UNSET if timeout is None else timeout,
    )
