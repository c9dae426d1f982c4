"""Built-in backend registrations (a plugin like any other)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from un_async.core.hookspecs import RegisterBackend, hookimpl

if TYPE_CHECKING:
    from un_async.core.executor import BackendContext, BaseExecutor

__all__ = ["register_backends"]


def _unsandbox(context: BackendContext) -> BaseExecutor:
    from un_async.backends.unsandbox.backend import UnsandboxBackend

    return UnsandboxBackend.from_context(context)


def _local(context: BackendContext) -> BaseExecutor:
    from un_async.backends.local.backend import local_backend

    return local_backend(context)


def _replay(context: BackendContext) -> BaseExecutor:
    from un_async.backends.replay.factory import replay_backend

    return replay_backend(context)


@hookimpl(trylast=True)
def register_backends(register: RegisterBackend) -> None:
    """``unsandbox``: the HTTP API; ``local``: this machine; ``replay``: cassettes
    (``un_async.backends.replay``). Each backend's modules load when it is built, so
    selecting ``local`` never imports aiohttp."""
    register("unsandbox", _unsandbox)
    register("local", _local)
    register("replay", _replay)
