"""``client.snapshots``: saved states of sessions and services (spec §3.6).

Snapshots are created per resource (``POST /sessions/{id}/snapshot`` or
``/services/{id}/snapshot``, the C client's shape; the id is read from ``id`` or
``snapshot_id``). A locked snapshot refuses deletion; deleting and unlocking may ask for a
one-time password (428, answered with ``otp=``). Free-tier accounts get 403.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from un_async.core.models import Record, Snapshot
from un_async.resources.base import (
    Namespace,
    Otp,
    PortList,
    check_choice,
    check_flag,
    check_ports,
    items_of,
    malformed,
    object_of,
    segment,
)
from un_async.resources.models import SnapshotClone

__all__ = ["SOURCE_TYPES", "Snapshots", "snapshot_of"]

SOURCE_TYPES = ("session", "service")
SnapshotList = list[Snapshot]


def snapshot_of(data: Mapping[str, Any] | None, **defaults: Any) -> Snapshot:
    """The :class:`Snapshot` of a reply; ``defaults`` fill keys the reply lacks."""
    merged = dict(defaults)
    merged.update(data or {})
    return Snapshot(merged)


def _path(snapshot_id: str, action: str = "") -> str:
    base = f"/snapshots/{segment('snapshot_id', snapshot_id)}"
    return f"{base}/{action}" if action else base


class Snapshots(Namespace):
    """The snapshot endpoints; ``client.snapshots``."""

    __slots__ = ()

    async def list(
        self, *, public_key: str | None = None, secret_key: str | None = None
    ) -> SnapshotList:
        """``GET /snapshots``: the account's snapshots."""
        data = await self._call(
            "snapshots.list", "GET", "/snapshots", public_key=public_key, secret_key=secret_key
        )
        return [snapshot_of(item) for item in items_of(data, "snapshots")]

    async def get(
        self, snapshot_id: str, *, public_key: str | None = None, secret_key: str | None = None
    ) -> Snapshot:
        """``GET /snapshots/{id}``."""
        data = await self._call(
            "snapshots.get",
            "GET",
            _path(snapshot_id),
            public_key=public_key,
            secret_key=secret_key,
        )
        return snapshot_of(object_of(data, "the snapshot"), id=snapshot_id)

    async def create(
        self,
        source_type: str,
        source_id: str,
        *,
        name: str | None = None,
        hot: bool = False,
        public_key: str | None = None,
        secret_key: str | None = None,
    ) -> Snapshot:
        """``POST /{sessions|services}/{id}/snapshot`` ``{"name"?, "hot"}``: snapshot the
        session or service ``source_id`` (``source_type`` ``"session"`` or ``"service"``;
        ``hot=True``: while it keeps running). 403 on the free tier."""
        kind = check_choice("source_type", source_type, SOURCE_TYPES)
        path = f"/{kind}s/{segment(f'{kind}_id', source_id)}/snapshot"
        body: dict[str, Any] = {"hot": check_flag("hot", hot)}
        if name is not None:
            body["name"] = name
        data = await self._call(
            f"{kind}s.snapshot",
            "POST",
            path,
            body=body,
            public_key=public_key,
            secret_key=secret_key,
        )
        reply = object_of(data, "the snapshot reply")
        snapshot = snapshot_of(reply, source_type=kind, source_id=source_id)
        if not snapshot.id:
            raise malformed("the snapshot reply has no id")
        return snapshot

    async def restore(
        self, snapshot_id: str, *, public_key: str | None = None, secret_key: str | None = None
    ) -> Record:
        """``POST /snapshots/{id}/restore`` (empty body): back into its session or
        service; the reply names the restored resource."""
        data = await self._call(
            "snapshots.restore",
            "POST",
            _path(snapshot_id, "restore"),
            public_key=public_key,
            secret_key=secret_key,
        )
        merged = {"id": snapshot_id, **(object_of(data, "the restore reply") or {})}
        return Record(merged)

    async def delete(
        self,
        snapshot_id: str,
        *,
        otp: Otp = None,
        public_key: str | None = None,
        secret_key: str | None = None,
    ) -> Record:
        """``DELETE /snapshots/{id}`` (``otp`` answers a 428 challenge; 409 while locked)."""
        data = await self._call(
            "snapshots.delete",
            "DELETE",
            _path(snapshot_id),
            otp=otp,
            public_key=public_key,
            secret_key=secret_key,
        )
        reply = object_of(data, "the deletion reply") or {}
        return Record({"id": snapshot_id, "status": "deleted", **reply})

    async def lock(
        self, snapshot_id: str, *, public_key: str | None = None, secret_key: str | None = None
    ) -> Snapshot:
        """``POST /snapshots/{id}/lock`` ``{}``: refuse deletion until unlocked."""
        return await self._lock("lock", snapshot_id, None, public_key, secret_key)

    async def unlock(
        self,
        snapshot_id: str,
        *,
        otp: Otp = None,
        public_key: str | None = None,
        secret_key: str | None = None,
    ) -> Snapshot:
        """``POST /snapshots/{id}/unlock`` ``{}`` (``otp`` answers a 428 challenge)."""
        return await self._lock("unlock", snapshot_id, otp, public_key, secret_key)

    async def clone(
        self,
        snapshot_id: str,
        clone_type: str = "session",
        *,
        name: str | None = None,
        shell: str | None = None,
        ports: PortList | None = None,
        public_key: str | None = None,
        secret_key: str | None = None,
    ) -> SnapshotClone:
        """``POST /snapshots/{id}/clone`` ``{"type", "name"?, "shell"?, "ports"?}``: a new
        session (``shell``) or service (``name``, ``ports``) from the snapshot; the reply
        carries ``session_id`` or ``service_id``."""
        body: dict[str, Any] = {"type": check_choice("clone_type", clone_type, SOURCE_TYPES)}
        if name:
            body["name"] = name
        if shell:
            body["shell"] = shell
        if ports:
            body["ports"] = check_ports(ports)
        data = await self._call(
            "snapshots.clone",
            "POST",
            _path(snapshot_id, "clone"),
            body=body,
            public_key=public_key,
            secret_key=secret_key,
        )
        return SnapshotClone.from_reply(object_of(data, "the clone reply"))

    async def _lock(
        self,
        action: str,
        snapshot_id: str,
        otp: Otp,
        public_key: str | None,
        secret_key: str | None,
    ) -> Snapshot:
        data = await self._call(
            f"snapshots.{action}",
            "POST",
            _path(snapshot_id, action),
            body={},
            otp=otp,
            public_key=public_key,
            secret_key=secret_key,
        )
        return snapshot_of(object_of(data, f"the {action} reply"), id=snapshot_id)
