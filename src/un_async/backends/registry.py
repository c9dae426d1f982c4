"""Built-in backend registrations (a plugin like any other)."""

from __future__ import annotations

from un_async.core.hookspecs import RegisterBackend, hookimpl

__all__ = ["register_backends"]


@hookimpl(trylast=True)
def register_backends(register: RegisterBackend) -> None:
    """``unsandbox``: the HTTP API; ``replay``: cassettes (``un_async.backends.replay``)."""
    from un_async.backends.local.backend import local_backend
    from un_async.backends.replay.factory import replay_backend
    from un_async.backends.unsandbox.backend import UnsandboxBackend

    register("unsandbox", UnsandboxBackend.from_context)
    register("local", local_backend)
    register("replay", replay_backend)
