"""Snapshot endpoints of the fake server (spec §3.6).

Creation comes in three shapes [disputed], all served: per resource
(``POST /sessions/{id}/snapshot`` or ``/services/{id}/snapshot`` → ``id``), generic with
``source_type``/``source_id`` (→ ``id``) and generic with ``session_id``/``service_id``
(→ ``snapshot_id`` and ``id``); the Python client's ``ephemeral`` stands for ``not hot``.
Free-tier accounts get 403 for creation and cloning.

A locked snapshot refuses ``DELETE`` with 409 ``locked``; ``DELETE`` and ``unlock`` need
sudo (spec §2.5). ``restore`` goes back into the source if it still exists, else into a
new session or service. ``clone`` ``{"type": "session"|"service", "name"?, "shell"?,
"ports"?}`` creates a new session or service (``type`` defaults to ``session``; a taken
service name answers 409 ``name_taken``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiohttp import web

from .access_control import ACCOUNT, owned
from .fake_state import FakeState
from .http_replies import HTTPError, bad_request, conflict, json_response, not_found
from .payload_checks import flag, optional_string, parse_object
from .resource_records import FakeSnapshot
from .services import check_service_name, new_service

__all__ = ["SnapshotRoutes"]


def _refuse_free_tier(request: web.Request) -> None:
    if request[ACCOUNT].tier == "free":
        raise HTTPError(403, "forbidden", "Snapshots not available for free tier")


class SnapshotRoutes:
    """``/snapshots`` and per-resource snapshot handlers over the shared state."""

    def __init__(self, state: FakeState) -> None:
        self.state = state

    def register(self, router: web.UrlDispatcher) -> None:
        """Add this group's routes to ``router``."""
        router.add_post("/sessions/{id}/snapshot", self.snapshot_session)
        router.add_post("/services/{id}/snapshot", self.snapshot_service)
        router.add_post("/snapshots", self.create)
        router.add_get("/snapshots", self.list_snapshots)
        router.add_get("/snapshots/{id}", self.get)
        router.add_delete("/snapshots/{id}", self.delete)
        router.add_post("/snapshots/{id}/restore", self.restore)
        router.add_post("/snapshots/{id}/lock", self.lock)
        router.add_post("/snapshots/{id}/unlock", self.unlock)
        router.add_post("/snapshots/{id}/clone", self.clone)

    def _new_snapshot(
        self, request: web.Request, source_type: str, source_id: str, payload: Mapping[str, Any]
    ) -> FakeSnapshot:
        _refuse_free_tier(request)
        owner = request[ACCOUNT].public_key
        state = self.state
        source: Any
        if source_type == "session":
            source = state.sessions.get(source_id)
        elif source_type == "service":
            source = state.services.get(source_id)
        else:
            raise bad_request("source_type must be 'session' or 'service'")
        if source is None or source.account != owner:
            raise not_found(source_type)
        name = optional_string(payload, "name")
        if "hot" in payload or "ephemeral" not in payload:
            hot = flag(payload, "hot")
        else:
            hot = not flag(payload, "ephemeral")
        snapshot_id = state.new_resource_id("unsb-snapshot-")
        snapshot = FakeSnapshot(
            id=snapshot_id,
            account=owner,
            name=name or f"snapshot-{snapshot_id[-4:]}",
            source_type=source_type,
            source_id=source_id,
            hot=hot,
            created_at=int(state.server_time()),
        )
        state.snapshots[snapshot_id] = snapshot
        return snapshot

    @staticmethod
    def _created(snapshot: FakeSnapshot, *, id_keys: tuple[str, ...]) -> web.Response:
        body = dict.fromkeys(id_keys, snapshot.id)
        view = snapshot.view()
        del view["id"]
        return json_response({**body, **view, "message": "Snapshot created"})

    def _snapshot(self, request: web.Request) -> FakeSnapshot:
        return owned(self.state.snapshots, request, "snapshot")

    async def snapshot_session(self, request: web.Request) -> web.StreamResponse:
        """``POST /sessions/{id}/snapshot`` ``{"name"?, "hot"}`` → ``id``."""
        payload = parse_object(await request.read(), allow_empty=True)
        snapshot = self._new_snapshot(request, "session", request.match_info["id"], payload)
        return self._created(snapshot, id_keys=("id",))

    async def snapshot_service(self, request: web.Request) -> web.StreamResponse:
        """``POST /services/{id}/snapshot`` ``{"name"?, "hot"}`` → ``id``."""
        payload = parse_object(await request.read(), allow_empty=True)
        snapshot = self._new_snapshot(request, "service", request.match_info["id"], payload)
        return self._created(snapshot, id_keys=("id",))

    async def create(self, request: web.Request) -> web.StreamResponse:
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

    async def list_snapshots(self, request: web.Request) -> web.StreamResponse:
        """``GET /snapshots`` → ``{"snapshots": [...], "count": N}``."""
        owner = request[ACCOUNT].public_key
        found = [s.view() for s in self.state.snapshots.values() if s.account == owner]
        return json_response({"snapshots": found, "count": len(found)})

    async def get(self, request: web.Request) -> web.StreamResponse:
        """``GET /snapshots/{id}``: the snapshot object."""
        return json_response(self._snapshot(request).view())

    async def delete(self, request: web.Request) -> web.StreamResponse:
        """``DELETE /snapshots/{id}`` (sudo): 409 while locked."""
        snapshot = self._snapshot(request)
        if snapshot.locked:
            raise conflict("locked", "Snapshot is locked; unlock it first")
        self.state.require_sudo(request)
        del self.state.snapshots[snapshot.id]
        return json_response(
            {"id": snapshot.id, "status": "deleted", "message": "Snapshot deleted"}
        )

    async def restore(self, request: web.Request) -> web.StreamResponse:
        """Restore into the source if it still exists, else into a new session/service."""
        snapshot = self._snapshot(request)
        parse_object(await request.read(), allow_empty=True)
        state, owner = self.state, request[ACCOUNT].public_key
        target = snapshot.source_id
        if snapshot.source_type == "session":
            if target not in state.sessions:
                target = state.add_session(owner)
            key = "session_id"
        else:
            if target not in state.services:
                target = state.add_service(owner)
            key = "service_id"
        return json_response(
            {
                "id": snapshot.id,
                "type": snapshot.source_type,
                "message": "Snapshot restored",
                key: target,
            }
        )

    async def lock(self, request: web.Request) -> web.StreamResponse:
        """``POST /snapshots/{id}/lock``."""
        snapshot = self._snapshot(request)
        snapshot.locked = True
        return json_response({"id": snapshot.id, "locked": True, "message": "Snapshot locked"})

    async def unlock(self, request: web.Request) -> web.StreamResponse:
        """``POST /snapshots/{id}/unlock`` (sudo)."""
        snapshot = self._snapshot(request)
        self.state.require_sudo(request)
        snapshot.locked = False
        return json_response({"id": snapshot.id, "locked": False, "message": "Snapshot unlocked"})

    async def clone(self, request: web.Request) -> web.StreamResponse:
        """``POST /snapshots/{id}/clone`` → ``session_id`` or ``service_id`` (and ``id``)."""
        snapshot = self._snapshot(request)
        payload = parse_object(await request.read(), allow_empty=True)
        _refuse_free_tier(request)
        clone_type = payload.get("type", "session")
        state, owner = self.state, request[ACCOUNT].public_key
        name = optional_string(payload, "name")
        if clone_type == "session":
            shell = optional_string(payload, "shell") or "bash"
            state.check_vcpu_budget(owner, 1)
            new_id = state.add_session(owner, shell=shell)
            key = "session_id"
        elif clone_type == "service":
            if name is not None:
                check_service_name(state, name)
            new_id = new_service(state, owner, name, payload).id
            key = "service_id"
        else:
            raise bad_request("type must be 'session' or 'service'")
        return json_response(
            {
                "id": new_id,
                key: new_id,
                "type": clone_type,
                "source_snapshot": snapshot.id,
                "message": f"Snapshot cloned to a new {clone_type}",
            }
        )
