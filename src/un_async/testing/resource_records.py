"""Records of the fake server's containers and images: sessions, services, snapshots and
images (spec §3.4-§3.7), each with the JSON view the API serves.

Every record belongs to one account (``account``; ``owner`` for images, which can change
hands). Statuses are plain strings: ``running`` and ``frozen`` for sessions and services.
"""

from __future__ import annotations

import hashlib
from typing import Any

import attrs

__all__ = [
    "MEMORY_MB_PER_VCPU",
    "FakeImage",
    "FakeService",
    "FakeSession",
    "FakeSnapshot",
    "service_url",
]

MEMORY_MB_PER_VCPU = 2048  # spec §3.1: each vCPU comes with 2 GB of RAM


def service_url(name: str) -> str:
    """The public address of a service (spec §1)."""
    return f"https://{name}.on.unsandbox.com"


@attrs.define(kw_only=True, eq=False)
class FakeSession:
    """An interactive session: a container the fake never starts.

    ``vcpu`` is the size asked for at creation; ``boost_vcpu`` the size while boosted.
    ``history`` holds the shell commands run, kept when the session is audited.
    """

    id: str
    account: str
    container_name: str
    created_at: int
    status: str = "running"
    network_mode: str = "zerotrust"
    shell: str = "bash"
    multiplexer: str | None = None
    vcpu: int = 1
    boost_vcpu: int | None = None
    ttl: int = 3600
    audit: bool = False
    input_files: list[str] = attrs.field(factory=list)
    history: list[str] = attrs.field(factory=list)
    last_activity: int | None = None

    @property
    def current_vcpu(self) -> int:
        """vCPUs in use: the boost when boosted, else the created size."""
        return self.boost_vcpu if self.boost_vcpu is not None else self.vcpu

    def view(self, now: float) -> dict[str, Any]:
        """The session object of ``GET /sessions/{id}``; ``now`` is epoch seconds."""
        return {
            "id": self.id,
            "session_id": self.id,
            "container_name": self.container_name,
            "status": self.status,
            "network_mode": self.network_mode,
            "shell": self.shell,
            "multiplexer": self.multiplexer,
            "vcpu": self.current_vcpu,
            "memory_mb": self.current_vcpu * MEMORY_MB_PER_VCPU,
            "boosted": self.boost_vcpu is not None,
            "ttl": self.ttl,
            "remaining_ttl": max(0, int(self.created_at + self.ttl - now)),
            "audit": self.audit,
            "created_at": self.created_at,
            "last_activity": self.last_activity or self.created_at,
        }


@attrs.define(kw_only=True, eq=False)
class FakeService:
    """A persistent service. ``env`` is its environment vault (``None``: no vault);
    ``log`` its output lines, oldest first."""

    id: str
    account: str
    name: str
    container_name: str
    created_at: int
    status: str = "running"
    ports: list[int] = attrs.field(factory=list)
    bootstrap: str | None = None
    bootstrap_content: str | None = None
    network_mode: str = "semitrusted"
    custom_domains: list[str] = attrs.field(factory=list)
    vcpu: int = 1
    service_type: str | None = None
    unfreeze_on_demand: bool = False
    show_freeze_page: bool = True
    golden_image: str | None = None
    input_files: list[str] = attrs.field(factory=list)
    source_image: str | None = None
    locked: bool = False
    env: dict[str, str] | None = None
    env_updated_at: int | None = None
    log: list[str] = attrs.field(factory=list)
    redeploys: int = 0
    last_activity: int | None = None

    @property
    def has_bootstrap(self) -> bool:
        """Whether a redeploy has something to run."""
        return bool(self.bootstrap or self.bootstrap_content)

    def view(self) -> dict[str, Any]:
        """The service object of ``GET /services/{id}``."""
        return {
            "id": self.id,
            "service_id": self.id,
            "name": self.name,
            "url": service_url(self.name),
            "container_name": self.container_name,
            "status": self.status,
            "ports": list(self.ports),
            "domains": list(self.custom_domains),
            "custom_domains": list(self.custom_domains),
            "network_mode": self.network_mode,
            "vcpu": self.vcpu,
            "memory_mb": self.vcpu * MEMORY_MB_PER_VCPU,
            "service_type": self.service_type,
            "unfreeze_on_demand": self.unfreeze_on_demand,
            "show_freeze_page": self.show_freeze_page,
            "golden_image": self.golden_image,
            "source_image": self.source_image,
            "bootstrap": self.bootstrap,
            "locked": self.locked,
            "has_vault": self.env is not None,
            "created_at": self.created_at,
            "last_activity": self.last_activity or self.created_at,
        }


@attrs.define(kw_only=True, eq=False)
class FakeSnapshot:
    """A snapshot of a session or service."""

    id: str
    account: str
    name: str
    source_type: str
    source_id: str
    hot: bool
    created_at: int
    locked: bool = False
    size_bytes: int = 104_857_600

    def view(self) -> dict[str, Any]:
        """The snapshot object (``type`` mirrors ``source_type``)."""
        return {
            "id": self.id,
            "name": self.name,
            "type": self.source_type,
            "source_type": self.source_type,
            "source_id": self.source_id,
            "hot": self.hot,
            "locked": self.locked,
            "created_at": self.created_at,
            "size_bytes": self.size_bytes,
        }


@attrs.define(kw_only=True, eq=False)
class FakeImage:
    """A portable image published from a service, a snapshot or another image.

    ``visibility``: ``private`` (owner and trusted keys), ``unlisted`` (anyone holding
    the id) or ``public`` (anyone; listed). ``trusted_keys`` are public keys the owner
    granted access to.
    """

    id: str
    owner: str
    name: str
    source_type: str
    source_id: str
    created_at: int
    description: str = ""
    size_bytes: int = 104_857_600
    locked: bool = False
    visibility: str = "private"
    trusted_keys: list[str] = attrs.field(factory=list)
    fingerprint: str = attrs.field()

    @fingerprint.default
    def _fingerprint(self) -> str:
        return hashlib.sha256(self.id.encode()).hexdigest()

    def access_for(self, public_key: str) -> str | None:
        """How ``public_key`` may use the image: ``owner``, ``trusted``, ``public``,
        ``unlisted`` (by id only) or ``None`` (invisible)."""
        if public_key == self.owner:
            return "owner"
        if public_key in self.trusted_keys:
            return "trusted"
        if self.visibility in ("public", "unlisted"):
            return self.visibility
        return None

    def view(self, viewer: str) -> dict[str, Any]:
        """The image object as ``viewer`` sees it: only the owner sees the owner key and
        the trusted keys."""
        data: dict[str, Any] = {
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "fingerprint": self.fingerprint,
            "source_type": self.source_type,
            "source_id": self.source_id,
            "size_bytes": self.size_bytes,
            "locked": self.locked,
            "visibility": self.visibility,
            "access": self.access_for(viewer),
            "created_at": self.created_at,
        }
        if viewer == self.owner:
            data["owner_api_key"] = self.owner
            data["trusted_keys"] = list(self.trusted_keys)
        return data
