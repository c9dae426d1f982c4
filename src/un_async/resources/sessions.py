"""``client.sessions``: interactive containers (spec §3.4).

A session is created ``running``; with a ``multiplexer`` (``tmux``/``screen``) it can be
frozen and unfrozen. Unfreezing and boosting draw on the account's concurrency budget
and may answer 429 (:class:`~un_async.core.service_errors.RateLimitError`); deleting may
ask for a one-time password (428, answered with ``otp=``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from un_async.core.errors import ValidationError
from un_async.core.execution_options import InputFiles
from un_async.core.models import NETWORK_MODES
from un_async.resources.base import (
    Namespace,
    Otp,
    check_choice,
    check_vcpu,
    items_of,
    object_of,
    segment,
)
from un_async.resources.models import Session, ShellResult
from un_async.resources.uploads import input_files_payload

if TYPE_CHECKING:
    from un_async.core.models import Snapshot

__all__ = ["MULTIPLEXERS", "Sessions"]

MULTIPLEXERS = ("tmux", "screen")
SessionList = list[Session]


def _path(session_id: str, action: str = "") -> str:
    base = f"/sessions/{segment('session_id', session_id)}"
    return f"{base}/{action}" if action else base


class Sessions(Namespace):
    """The session endpoints; ``client.sessions``."""

    __slots__ = ()

    async def list(
        self, *, public_key: str | None = None, secret_key: str | None = None
    ) -> SessionList:
        """``GET /sessions``: the account's sessions."""
        data = await self._call(
            "sessions.list", "GET", "/sessions", public_key=public_key, secret_key=secret_key
        )
        return [Session.from_reply(item) for item in items_of(data, "sessions")]

    async def get(
        self, session_id: str, *, public_key: str | None = None, secret_key: str | None = None
    ) -> Session:
        """``GET /sessions/{id}``."""
        path = _path(session_id)
        data = await self._call(
            "sessions.get", "GET", path, public_key=public_key, secret_key=secret_key
        )
        return Session.from_reply(object_of(data, "the session"), id=session_id)

    async def create(
        self,
        *,
        network_mode: str = "zerotrust",
        ttl: int = 3600,
        shell: str | None = None,
        multiplexer: str | None = None,
        vcpu: int = 1,
        input_files: InputFiles | None = None,
        audit: bool = False,
        language: str | None = None,
        public_key: str | None = None,
        secret_key: str | None = None,
    ) -> Session:
        """``POST /sessions[?audit=1]``: a new running session.

        ``network_mode`` ``zerotrust`` (no network) or ``semitrusted`` (internet); ``ttl``
        in seconds; ``shell`` such as ``bash`` or ``python3``; ``multiplexer`` ``tmux`` or
        ``screen`` (needed to freeze it later); ``vcpu`` 1-8 (sent only above 1);
        ``input_files`` as for executions; ``audit=True`` asks the server to keep the
        shell history. ``language`` is sent as the reference Python client sends it (the
        server's use of it is unspecified; prefer ``shell``).
        """
        body: dict[str, object] = {
            "network_mode": check_choice("network_mode", network_mode, NETWORK_MODES),
            "ttl": _check_ttl(ttl),
        }
        if language:
            body["language"] = language
        if shell:
            body["shell"] = shell
        if multiplexer:
            body["multiplexer"] = check_choice("multiplexer", multiplexer, MULTIPLEXERS)
        if check_vcpu(vcpu) > 1:
            body["vcpu"] = vcpu
        if input_files:
            body["input_files"] = input_files_payload(input_files)
        data = await self._call(
            "sessions.create",
            "POST",
            "/sessions",
            body=body,
            query={"audit": "1"} if audit else None,
            public_key=public_key,
            secret_key=secret_key,
        )
        return Session.from_reply(object_of(data, "the session"))

    async def delete(
        self,
        session_id: str,
        *,
        otp: Otp = None,
        public_key: str | None = None,
        secret_key: str | None = None,
    ) -> Session:
        """``DELETE /sessions/{id}``: terminate the session (``otp`` answers a 428
        challenge). An audited session's reply carries its ``shell_history``."""
        data = await self._call(
            "sessions.delete",
            "DELETE",
            _path(session_id),
            otp=otp,
            public_key=public_key,
            secret_key=secret_key,
        )
        return Session.from_reply(object_of(data, "the deletion reply"), id=session_id)

    async def freeze(
        self, session_id: str, *, public_key: str | None = None, secret_key: str | None = None
    ) -> Session:
        """``POST /sessions/{id}/freeze`` ``{}``: pause it, keeping its state (400 for a
        session created without a multiplexer)."""
        return await self._action("freeze", session_id, {}, public_key, secret_key)

    async def unfreeze(
        self, session_id: str, *, public_key: str | None = None, secret_key: str | None = None
    ) -> Session:
        """``POST /sessions/{id}/unfreeze`` ``{}``: resume it (429 past the account's
        concurrency)."""
        return await self._action("unfreeze", session_id, {}, public_key, secret_key)

    async def boost(
        self,
        session_id: str,
        vcpu: int = 2,
        *,
        public_key: str | None = None,
        secret_key: str | None = None,
    ) -> Session:
        """``POST /sessions/{id}/boost`` ``{"vcpu": N}``: run it on ``vcpu`` vCPUs (1-8,
        default 2 as in the C client; 429 past the account's concurrency)."""
        body = {"vcpu": check_vcpu(vcpu)}
        return await self._action("boost", session_id, body, public_key, secret_key)

    async def unboost(
        self, session_id: str, *, public_key: str | None = None, secret_key: str | None = None
    ) -> Session:
        """``POST /sessions/{id}/unboost`` ``{}``: back to the size it was created with."""
        return await self._action("unboost", session_id, {}, public_key, secret_key)

    async def shell(
        self,
        session_id: str,
        command: str,
        *,
        public_key: str | None = None,
        secret_key: str | None = None,
    ) -> ShellResult:
        """``POST /sessions/{id}/shell`` ``{"command"}``: run one shell command and return
        its ``stdout``, ``stderr`` and ``exit_code`` (409 while the session is frozen).
        For an interactive terminal use the WebSocket at the same path."""
        if not isinstance(command, str) or not command.strip():
            raise ValidationError("command must be a non-empty string")
        data = await self._call(
            "sessions.shell",
            "POST",
            _path(session_id, "shell"),
            body={"command": command},
            public_key=public_key,
            secret_key=secret_key,
        )
        return ShellResult.from_reply(object_of(data, "the shell reply"), id=session_id)

    execute = shell

    async def snapshot(
        self,
        session_id: str,
        *,
        name: str | None = None,
        hot: bool = False,
        public_key: str | None = None,
        secret_key: str | None = None,
    ) -> Snapshot:
        """``POST /sessions/{id}/snapshot`` ``{"name"?, "hot"}``: snapshot the session
        (``hot=True``: without freezing it); see :meth:`Snapshots.create`."""
        return await self._client.snapshots.create(
            "session", session_id, name=name, hot=hot, public_key=public_key, secret_key=secret_key
        )

    async def _action(
        self,
        action: str,
        session_id: str,
        body: Mapping[str, object],
        public_key: str | None,
        secret_key: str | None,
    ) -> Session:
        data = await self._call(
            f"sessions.{action}",
            "POST",
            _path(session_id, action),
            body=body,
            public_key=public_key,
            secret_key=secret_key,
        )
        return Session.from_reply(object_of(data, "the session"), id=session_id)


def _check_ttl(ttl: object) -> int:
    if isinstance(ttl, bool) or not isinstance(ttl, int) or ttl < 1:
        raise ValidationError(f"ttl must be a positive number of seconds, got {ttl!r}")
    return ttl
