"""The ``replay`` backend, as selected by name or by the environment.

``AsyncClient(backend="replay")`` or ``UN_ASYNC_BACKEND=replay`` builds an execution-level
replay/record backend from ``config.options``, which :meth:`ClientConfig.from_env` fills
from the environment:

==============================  =================  =================================
variable                        backend option     meaning
==============================  =================  =================================
``UN_ASYNC_CASSETTE``           ``cassette``       the cassette file (required)
``UN_ASYNC_RECORD_MODE``        ``record_mode``    ``none`` (default), ``once``,
                                                   ``new_episodes``, ``all``
``UN_ASYNC_REPLAY_LATENCY``     ``latency``        ``none`` (default), ``recorded``,
                                                   ``scaled:F``
``UN_ASYNC_REPLAY_RECORD_BACKEND`` ``record_backend`` the backend recordings go through
==============================  =================  =================================

Options come from ``AsyncClient(backend="replay", backend_options={...})``; each variable
also has the form ``UN_ASYNC_REPLAY_<OPTION>``. Recording goes through any registered
backend (default ``unsandbox``, configured as usual: ``UNSANDBOX_API_URL`` etc.; ``local``
records real local runs), built with the backend option ``record_backend_options`` (a
mapping, in code only) as its own options and otherwise configured by its own
environment variables (``UN_ASYNC_LOCAL_*``, ...).

All clients of one process that name the same cassette file and mode share one
:class:`CassetteSession`, so a program that runs several event loops (or uses
:mod:`un_async.sync` next to ``asyncio.run``) replays one continuous recording, and each
client's close saves everything recorded so far.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from pathlib import Path

import attrs

from un_async.backends.replay.executor import RecordingExecutor, ReplayExecutor
from un_async.backends.replay.modes import RecordMode
from un_async.backends.replay.redaction import SecretSet
from un_async.backends.replay.session import CassetteSession
from un_async.core.errors import ConfigurationError
from un_async.core.executor import BackendContext, BaseExecutor

__all__ = ["BACKEND_NAME", "replay_backend", "reset_shared_sessions", "shared_session"]

BACKEND_NAME = "replay"

_SESSIONS: dict[tuple[Path, RecordMode], CassetteSession] = {}
_LOCK = threading.Lock()


def shared_session(path: str | os.PathLike[str], mode: RecordMode | str) -> CassetteSession:
    """The process-wide execution-level session for ``path`` in ``mode``."""
    record_mode = RecordMode.parse(mode)
    key = (Path(path).resolve(), record_mode)
    with _LOCK:
        session = _SESSIONS.get(key)
        if session is None:
            session = CassetteSession(
                level="execution",
                mode=record_mode,
                path=path,
                secrets=SecretSet.from_environ(os.environ),
            )
            _SESSIONS[key] = session
        return session


def reset_shared_sessions() -> None:
    """Forget every shared session (the next client reloads its cassette file)."""
    with _LOCK:
        _SESSIONS.clear()


_LEGACY_VARIABLES = {
    "cassette": "UN_ASYNC_CASSETTE",
    "record_mode": "UN_ASYNC_RECORD_MODE",
    "latency": "UN_ASYNC_REPLAY_LATENCY",
}


def _setting(context: BackendContext, key: str) -> str | None:
    """A replay setting: backend options, then ``config.options`` (earlier releases), then
    ``UN_ASYNC_REPLAY_<KEY>``, then the legacy variable names in the table above."""
    legacy_option = "replay_latency" if key == "latency" else key
    value = context.setting(key) or context.config.options.get(legacy_option)
    if not value:
        value = context.environ.get(_LEGACY_VARIABLES.get(key, ""))
    return str(value) if value else None


def replay_backend(context: BackendContext) -> BaseExecutor:
    """The factory registered as backend ``replay`` (see the module docstring)."""
    path = _setting(context, "cassette")
    if not path:
        raise ConfigurationError(
            "backend 'replay' needs a cassette file: set UN_ASYNC_CASSETTE "
            "or pass backend_options={'cassette': PATH}"
        )
    session = shared_session(path, _setting(context, "record_mode") or "none")
    latency = _setting(context, "latency") or "none"
    recorder = None
    if session.recording:
        inner_name = _setting(context, "record_backend") or "unsandbox"
        if inner_name == BACKEND_NAME:
            raise ConfigurationError("the replay backend cannot record through itself")
        factories = context.plugins.backend_factories()
        if inner_name not in factories:
            raise ConfigurationError(f"unknown record_backend {inner_name!r}")
        inner_options = context.options.get("record_backend_options") or {}
        if not isinstance(inner_options, Mapping):
            raise ConfigurationError("record_backend_options must be a mapping of settings")
        inner_context = attrs.evolve(context, name=inner_name, options=dict(inner_options))
        recorder = RecordingExecutor(factories[inner_name](inner_context), session)
    if not session.replaying:
        assert recorder is not None
        return recorder
    return ReplayExecutor(session, latency=latency, fallback=recorder)
