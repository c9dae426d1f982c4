"""Account, session and snapshot endpoints of the fake server (spec §6-§8).

Destructive calls (deleting a session or snapshot, unlocking a snapshot) go through the
sudo OTP check when the server has ``sudo_otp`` set.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from .base import ACCOUNT, ServerState
from .replies import (
    HTTPError,
    bad_request,
    flag,
    int_in_range,
    json_response,
    not_found,
    parse_network_mode,
    parse_object,
)
from .state import FakeSession, FakeSnapshot

__all__ = ["ResourceRoutes"]


class ResourceRoutes(ServerState):
    """Handlers for health, languages, key validation, sessions and snapshots."""

    async def _h_health(self, request: web.Request) -> web.StreamResponse:
        return json_response({"status": "ok"})

    async def _h_languages(self, request: web.Request) -> web.StreamResponse:
        return json_response({"languages": self.languages})

    async def _h_validate_keys(self, request: web.Request) -> web.StreamResponse:
        account = request[ACCOUNT]
        until = datetime.fromtimestamp(self.server_time() + 30 * 86400, UTC)
        per_minute = int(self.rate_limit[0] * 60 / self.rate_limit[1]) if self.rate_limit else 60
        return json_response(
            {
                "valid": True,
                "public_key": account.public_key,
                "tier": account.tier,
                "status": "active",
                "valid_through_datetime": until.isoformat(timespec="seconds"),
                "expires_at": until.isoformat(timespec="seconds"),
                "valid_for_human": "30 days",
                "rate_per_minute": per_minute,
                "burst": self.rate_limit[0] if self.rate_limit else per_minute,
                "concurrency": self.concurrency_limit or 10,
            }
        )

    async def _h_stats(self, request: web.Request) -> web.StreamResponse:
        return json_response(self.stats())

    async def _h_reset(self, request: web.Request) -> web.StreamResponse:
        self.reset_stats()
        return json_response({"status": "ok"})

    # --- sessions ---------------------------------------------------------------------------------

    def _session_for(self, request: web.Request) -> FakeSession:
        session = self.sessions.get(request.match_info["id"])
        if session is None or session.account != request[ACCOUNT].public_key:
            raise not_found("session")
        return session

    async def _h_create_session(self, request: web.Request) -> web.StreamResponse:
        payload = parse_object(await request.read(), allow_empty=True)
        shell = payload.get("shell") or payload.get("language") or "bash"
        if not isinstance(shell, str):
            raise bad_request("shell must be a string")
        session_id = self.add_session(
            request[ACCOUNT].public_key,
            network_mode=parse_network_mode(payload),
            shell=shell,
            vcpu=int_in_range(payload, "vcpu", 1, 8) or 1,
            ttl=int_in_range(payload, "ttl", 1, 86400 * 7) or 3600,
        )
        return json_response(self.sessions[session_id].view(self.server_time()))

    async def _h_list_sessions(self, request: web.Request) -> web.StreamResponse:
        owner, now = request[ACCOUNT].public_key, self.server_time()
        sessions = [s.view(now) for s in self.sessions.values() if s.account == owner]
        return json_response({"sessions": sessions, "count": len(sessions)})

    async def _h_get_session(self, request: web.Request) -> web.StreamResponse:
        return json_response(self._session_for(request).view(self.server_time()))

    async def _h_delete_session(self, request: web.Request) -> web.StreamResponse:
        session = self._session_for(request)
        self._require_sudo(request)
        del self.sessions[session.id]
        return json_response(
            {
                "id": session.id,
                "session_id": session.id,
                "status": "terminated",
                "message": "Session terminated",
            }
        )

    # --- snapshots --------------------------------------------------------------------------------

    def _new_snapshot(
        self, request: web.Request, source_type: str, source_id: str, payload: Mapping[str, Any]
    ) -> FakeSnapshot:
        account = request[ACCOUNT]
        if account.tier == "free":
            raise HTTPError(403, "forbidden", "Snapshots not available for free tier")
        if source_type == "session":
            session = self.sessions.get(source_id)
            exists = session is not None and session.account == account.public_key
        elif source_type == "service":
            exists = self.services.get(source_id) == account.public_key
        else:
            raise bad_request("source_type must be 'session' or 'service'")
        if not exists:
            raise not_found(source_type)
        name = payload.get("name")
        if name is not None and not isinstance(name, str):
            raise bad_request("name must be a string")
        if "hot" in payload or "ephemeral" not in payload:
            hot = flag(payload, "hot")
        else:
            hot = not flag(payload, "ephemeral")
        snapshot_id = self._hex_id("unsb-snapshot-")
        snapshot = FakeSnapshot(
            id=snapshot_id,
            account=account.public_key,
            name=name or f"snapshot-{snapshot_id[-4:]}",
            source_type=source_type,
            source_id=source_id,
            hot=hot,
            created_at=int(self.server_time()),
        )
        self.snapshots[snapshot_id] = snapshot
        return snapshot

    @staticmethod
    def _created(snapshot: FakeSnapshot, *, id_keys: tuple[str, ...]) -> web.Response:
        body = dict.fromkeys(id_keys, snapshot.id)
        view = snapshot.view()
        del view["id"]
        return json_response({**body, **view, "message": "Snapshot created"})

    async def _h_session_snapshot(self, request: web.Request) -> web.StreamResponse:
        payload = parse_object(await request.read(), allow_empty=True)
        snapshot = self._new_snapshot(request, "session", request.match_info["id"], payload)
        return self._created(snapshot, id_keys=("id",))

    async def _h_service_snapshot(self, request: web.Request) -> web.StreamResponse:
        payload = parse_object(await request.read(), allow_empty=True)
        snapshot = self._new_snapshot(request, "service", request.match_info["id"], payload)
        return self._created(snapshot, id_keys=("id",))

    async def _h_create_snapshot(self, request: web.Request) -> web.StreamResponse:
        """Both generic shapes: ``source_type``/``source_id`` → ``id``;
        ``session_id``/``service_id`` → ``snapshot_id`` and ``id``."""
        payload = parse_object(await request.read(), allow_empty=False)
        if "source_type" in payload:
            source_type, source_id = payload["source_type"], payload.get("source_id")
            if not isinstance(source_type, str) or not isinstance(source_id, str):
                raise bad_request("source_type and source_id must be strings")
            snapshot = self._new_snapshot(request, source_type, source_id, payload)
            return self._created(snapshot, id_keys=("id",))
        for key, source_type in (("session_id", "session"), ("service_id", "service")):
            source_id = payload.get(key)
            if isinstance(source_id, str):
                snapshot = self._new_snapshot(request, source_type, source_id, payload)
                return self._created(snapshot, id_keys=("snapshot_id", "id"))
        raise bad_request("give source_type/source_id, session_id or service_id")

    def _snapshot_for(self, request: web.Request) -> FakeSnapshot:
        snapshot = self.snapshots.get(request.match_info["id"])
        if snapshot is None or snapshot.account != request[ACCOUNT].public_key:
            raise not_found("snapshot")
        return snapshot

    async def _h_list_snapshots(self, request: web.Request) -> web.StreamResponse:
        owner = request[ACCOUNT].public_key
        found = [s.view() for s in self.snapshots.values() if s.account == owner]
        return json_response({"snapshots": found, "count": len(found)})

    async def _h_get_snapshot(self, request: web.Request) -> web.StreamResponse:
        return json_response(self._snapshot_for(request).view())

    async def _h_delete_snapshot(self, request: web.Request) -> web.StreamResponse:
        snapshot = self._snapshot_for(request)
        if snapshot.locked:
            raise HTTPError(409, "locked", "Snapshot is locked; unlock it first")
        self._require_sudo(request)
        del self.snapshots[snapshot.id]
        return json_response(
            {"id": snapshot.id, "status": "deleted", "message": "Snapshot deleted"}
        )

    async def _h_restore_snapshot(self, request: web.Request) -> web.StreamResponse:
        """Restore into the source if it still exists, else into a new session/service."""
        snapshot = self._snapshot_for(request)
        parse_object(await request.read(), allow_empty=True)
        owner = request[ACCOUNT].public_key
        target = snapshot.source_id
        if snapshot.source_type == "session":
            if target not in self.sessions:
                target = self.add_session(owner)
            key = "session_id"
        else:
            if target not in self.services:
                target = self.add_service(owner)
            key = "service_id"
        return json_response(
            {
                "id": snapshot.id,
                "type": snapshot.source_type,
                "message": "Snapshot restored",
                key: target,
            }
        )

    async def _h_lock_snapshot(self, request: web.Request) -> web.StreamResponse:
        snapshot = self._snapshot_for(request)
        snapshot.locked = True
        return json_response({"id": snapshot.id, "locked": True, "message": "Snapshot locked"})

    async def _h_unlock_snapshot(self, request: web.Request) -> web.StreamResponse:
        snapshot = self._snapshot_for(request)
        self._require_sudo(request)
        snapshot.locked = False
        return json_response({"id": snapshot.id, "locked": False, "message": "Snapshot unlocked"})
