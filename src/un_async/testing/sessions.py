"""Session endpoints of the fake server (spec §3.4).

A session is ``running`` or ``frozen``. Only a session created with a ``multiplexer``
(``tmux``/``screen``) can be frozen (400 otherwise, as the C client's help says); freezing
a frozen session or unfreezing a running one is a no-op that answers 200. ``boost`` sets
the vCPUs (``{"vcpu": N}``, default 2 when the body is empty, as the C client's default;
the reference Python client sends ``{}``) and ``unboost`` returns to the created size.
Unfreeze and boost answer 429 ``concurrency_limit_reached`` when the ``vcpu_limit`` knob
would be exceeded; creation too. A frozen session answers 409 ``session_not_running`` to
boost and to shell commands.

``POST /sessions/{id}/shell`` (and the ``/execute`` variant of 14 other clients) runs a
command at once and answers ``{stdout, stderr, exit_code}``, scripted with
``FakeUnsandbox.script("bash", command, ...)`` or emulated. ``?audit=1`` on creation keeps
the commands run; ``DELETE`` of an audited session returns them as ``shell_history``
(the reply's "optional artifacts" shape is UNKNOWN, spec §3.4). ``DELETE`` needs sudo
(spec §2.5, C only).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from .access_control import ACCOUNT, owned
from .fake_state import FakeState
from .http_replies import bad_request, conflict, json_response
from .job_launcher import outcome_for
from .payload_checks import (
    decode_files,
    int_in_range,
    optional_string,
    parse_network_mode,
    parse_object,
)
from .resource_records import FakeSession

__all__ = ["MULTIPLEXERS", "SessionRoutes"]

MULTIPLEXERS = frozenset({"tmux", "screen"})
_DEFAULT_BOOST = 2


def _audit_requested(request: web.Request) -> bool:
    return request.query.get("audit", "").lower() in ("1", "true", "yes")


class SessionRoutes:
    """``/sessions`` handlers over the shared state."""

    def __init__(self, state: FakeState) -> None:
        self.state = state

    def register(self, router: web.UrlDispatcher) -> None:
        """Add this group's routes to ``router``."""
        router.add_get("/sessions", self.list_sessions)
        router.add_post("/sessions", self.create)
        router.add_get("/sessions/{id}", self.get)
        router.add_delete("/sessions/{id}", self.delete)
        router.add_post("/sessions/{id}/freeze", self.freeze)
        router.add_post("/sessions/{id}/unfreeze", self.unfreeze)
        router.add_post("/sessions/{id}/boost", self.boost)
        router.add_post("/sessions/{id}/unboost", self.unboost)
        router.add_post("/sessions/{id}/shell", self.shell)
        router.add_post("/sessions/{id}/execute", self.shell)

    def _session(self, request: web.Request) -> FakeSession:
        return owned(self.state.sessions, request, "session")

    def _reply(self, session: FakeSession, message: str) -> web.Response:
        return json_response({**session.view(self.state.server_time()), "message": message})

    async def list_sessions(self, request: web.Request) -> web.StreamResponse:
        """``GET /sessions`` → ``{"sessions": [...], "count": N}``."""
        owner, now = request[ACCOUNT].public_key, self.state.server_time()
        found = [s.view(now) for s in self.state.sessions.values() if s.account == owner]
        return json_response({"sessions": found, "count": len(found)})

    async def create(self, request: web.Request) -> web.StreamResponse:
        """``POST /sessions[?audit=1]``: the session object (``id`` and ``session_id``)."""
        payload = parse_object(await request.read(), allow_empty=True)
        shell = optional_string(payload, "shell") or optional_string(payload, "language")
        multiplexer = optional_string(payload, "multiplexer")
        if multiplexer is not None and multiplexer not in MULTIPLEXERS:
            raise bad_request("multiplexer must be 'tmux' or 'screen'")
        network_mode = parse_network_mode(payload)
        vcpu = int_in_range(payload, "vcpu", 1, 8) or 1
        ttl = int_in_range(payload, "ttl", 1, 86400 * 7) or 3600
        files = decode_files(payload.get("input_files"))
        owner = request[ACCOUNT].public_key
        self.state.check_vcpu_budget(owner, vcpu)
        session_id = self.state.add_session(
            owner,
            network_mode=network_mode,
            shell=shell or "bash",
            multiplexer=multiplexer,
            vcpu=vcpu,
            ttl=ttl,
            audit=_audit_requested(request),
            input_files=sorted(files),
        )
        return json_response(self.state.sessions[session_id].view(self.state.server_time()))

    async def get(self, request: web.Request) -> web.StreamResponse:
        """``GET /sessions/{id}``: the session object."""
        return json_response(self._session(request).view(self.state.server_time()))

    async def delete(self, request: web.Request) -> web.StreamResponse:
        """``DELETE /sessions/{id}[?audit=1]`` (sudo)."""
        session = self._session(request)
        self.state.require_sudo(request)
        del self.state.sessions[session.id]
        body: dict[str, Any] = {
            "id": session.id,
            "session_id": session.id,
            "status": "terminated",
            "message": "Session terminated",
        }
        if session.audit:
            body["shell_history"] = list(session.history)
        return json_response(body)

    async def freeze(self, request: web.Request) -> web.StreamResponse:
        """``POST /sessions/{id}/freeze``: 400 without a multiplexer."""
        session = self._session(request)
        parse_object(await request.read(), allow_empty=True)
        if session.multiplexer is None:
            raise bad_request(
                "Only sessions created with tmux or screen can be frozen", "freeze_not_allowed"
            )
        session.status = "frozen"
        return self._reply(session, "Session frozen")

    async def unfreeze(self, request: web.Request) -> web.StreamResponse:
        """``POST /sessions/{id}/unfreeze``: 429 past ``vcpu_limit``."""
        session = self._session(request)
        parse_object(await request.read(), allow_empty=True)
        if session.status != "running":
            self.state.check_vcpu_budget(session.account, session.current_vcpu)
            session.status = "running"
        return self._reply(session, "Session unfrozen")

    async def boost(self, request: web.Request) -> web.StreamResponse:
        """``POST /sessions/{id}/boost`` ``{"vcpu": N}``: 429 past ``vcpu_limit``."""
        session = self._session(request)
        payload = parse_object(await request.read(), allow_empty=True)
        vcpu = int_in_range(payload, "vcpu", 1, 8) or _DEFAULT_BOOST
        if session.status != "running":
            raise conflict("session_not_running", "Session is frozen; unfreeze it first")
        self.state.check_vcpu_budget(session.account, vcpu - session.current_vcpu)
        session.boost_vcpu = vcpu
        return self._reply(session, f"Session boosted to {vcpu} vCPU")

    async def unboost(self, request: web.Request) -> web.StreamResponse:
        """``POST /sessions/{id}/unboost``: back to the created size."""
        session = self._session(request)
        parse_object(await request.read(), allow_empty=True)
        session.boost_vcpu = None
        return self._reply(session, "Session unboosted")

    async def shell(self, request: web.Request) -> web.StreamResponse:
        """``POST /sessions/{id}/shell`` ``{"command"}`` → ``{stdout, stderr, exit_code}``."""
        session = self._session(request)
        payload = parse_object(await request.read(), allow_empty=False)
        command = optional_string(payload, "command")
        if not command:
            raise bad_request("command is required")
        if session.status != "running":
            raise conflict("session_not_running", "Session is frozen; unfreeze it first")
        outcome = outcome_for(self.state, "bash", command)
        session.last_activity = int(self.state.server_time())
        if session.audit:
            session.history.append(command)
        body: dict[str, Any] = {
            "session_id": session.id,
            "stdout": outcome.stdout,
            "stderr": outcome.stderr,
            "exit_code": outcome.exit_code,
        }
        if outcome.error:
            body["error"] = outcome.error
        return json_response(body)
