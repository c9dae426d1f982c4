"""``client.images``: portable images published from services and snapshots (spec §3.7).

An image is ``private`` (its owner and the keys it trusts), ``unlisted`` (anyone with its
id) or ``public`` (listed for everyone). Only the owner changes it (403 otherwise); a
locked image refuses deletion; deleting and unlocking may ask for a one-time password
(428, answered with ``otp=``). Where the clients disagree this module uses the C, Python
and JS clients' endpoints: ``POST /images`` to publish, ``GET /images/{owned|shared|public}``
to filter, ``/grant`` and ``/revoke`` with ``trusted_api_key``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from un_async.core.errors import ValidationError
from un_async.core.models import NETWORK_MODES
from un_async.resources.base import (
    Namespace,
    Otp,
    PortList,
    check_choice,
    check_ports,
    check_vcpu,
    items_of,
    object_of,
    segment,
)
from un_async.resources.models import Image, Service

__all__ = ["IMAGE_FILTERS", "IMAGE_SOURCES", "VISIBILITIES", "Images"]

IMAGE_FILTERS = ("all", "owned", "shared", "public")
IMAGE_SOURCES = ("service", "snapshot")
VISIBILITIES = ("private", "unlisted", "public")
ImageList = list[Image]
KeyList = list[str]


def _path(image_id: str, action: str = "") -> str:
    base = f"/images/{segment('image_id', image_id)}"
    return f"{base}/{action}" if action else base


def _key(name: str, value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(f"{name} must be a public key (a non-empty string)")
    return value


class Images(Namespace):
    """The image endpoints; ``client.images``."""

    __slots__ = ()

    async def publish(
        self,
        source_type: str,
        source_id: str,
        *,
        name: str | None = None,
        description: str | None = None,
        public_key: str | None = None,
        secret_key: str | None = None,
    ) -> Image:
        """``POST /images`` ``{"source_type", "source_id", "name"?, "description"?}``:
        publish the service or snapshot ``source_id`` as a private image."""
        kind = check_choice("source_type", source_type, IMAGE_SOURCES)
        body: dict[str, Any] = {
            "source_type": kind,
            "source_id": segment(f"{kind}_id", source_id),
        }
        if name:
            body["name"] = name
        if description:
            body["description"] = description
        data = await self._call(
            "images.publish",
            "POST",
            "/images",
            body=body,
            public_key=public_key,
            secret_key=secret_key,
        )
        return Image.from_reply(object_of(data, "the image"))

    async def list(
        self,
        which: str = "all",
        *,
        public_key: str | None = None,
        secret_key: str | None = None,
    ) -> ImageList:
        """``GET /images`` (every image the account may use) or
        ``GET /images/{owned|shared|public}`` for ``which``."""
        kind = check_choice("which", which, IMAGE_FILTERS)
        path = "/images" if kind == "all" else f"/images/{kind}"
        data = await self._call(
            "images.list", "GET", path, public_key=public_key, secret_key=secret_key
        )
        return [Image.from_reply(item) for item in items_of(data, "images")]

    async def get(
        self, image_id: str, *, public_key: str | None = None, secret_key: str | None = None
    ) -> Image:
        """``GET /images/{id}``."""
        data = await self._call(
            "images.get", "GET", _path(image_id), public_key=public_key, secret_key=secret_key
        )
        return Image.from_reply(object_of(data, "the image"), id=image_id)

    async def delete(
        self,
        image_id: str,
        *,
        otp: Otp = None,
        public_key: str | None = None,
        secret_key: str | None = None,
    ) -> Image:
        """``DELETE /images/{id}`` (``otp`` answers a 428 challenge; 409 while locked)."""
        data = await self._call(
            "images.delete",
            "DELETE",
            _path(image_id),
            otp=otp,
            public_key=public_key,
            secret_key=secret_key,
        )
        return Image.from_reply(object_of(data, "the deletion reply"), id=image_id)

    async def lock(
        self, image_id: str, *, public_key: str | None = None, secret_key: str | None = None
    ) -> Image:
        """``POST /images/{id}/lock`` ``{}``: refuse deletion until unlocked."""
        return await self._post("lock", image_id, {}, None, public_key, secret_key)

    async def unlock(
        self,
        image_id: str,
        *,
        otp: Otp = None,
        public_key: str | None = None,
        secret_key: str | None = None,
    ) -> Image:
        """``POST /images/{id}/unlock`` ``{}`` (``otp`` answers a 428 challenge)."""
        return await self._post("unlock", image_id, {}, otp, public_key, secret_key)

    async def set_visibility(
        self,
        image_id: str,
        visibility: str,
        *,
        public_key: str | None = None,
        secret_key: str | None = None,
    ) -> Image:
        """``POST /images/{id}/visibility`` ``{"visibility"}``: ``private``, ``unlisted``
        or ``public``."""
        body = {"visibility": check_choice("visibility", visibility, VISIBILITIES)}
        return await self._post(
            "visibility", image_id, body, None, public_key, secret_key, "images.set_visibility"
        )

    async def grant(
        self,
        image_id: str,
        trusted_public_key: str,
        *,
        public_key: str | None = None,
        secret_key: str | None = None,
    ) -> Image:
        """``POST /images/{id}/grant`` ``{"trusted_api_key"}``: let that account use the
        image; the reply lists ``trusted_keys``."""
        body = {"trusted_api_key": _key("trusted_public_key", trusted_public_key)}
        return await self._post("grant", image_id, body, None, public_key, secret_key)

    async def revoke(
        self,
        image_id: str,
        trusted_public_key: str,
        *,
        public_key: str | None = None,
        secret_key: str | None = None,
    ) -> Image:
        """``POST /images/{id}/revoke`` ``{"trusted_api_key"}``."""
        body = {"trusted_api_key": _key("trusted_public_key", trusted_public_key)}
        return await self._post("revoke", image_id, body, None, public_key, secret_key)

    async def trusted(
        self, image_id: str, *, public_key: str | None = None, secret_key: str | None = None
    ) -> KeyList:
        """``GET /images/{id}/trusted``: the public keys the image trusts (read from
        ``trusted_keys``, else ``trusted``)."""
        data = await self._call(
            "images.trusted",
            "GET",
            _path(image_id, "trusted"),
            public_key=public_key,
            secret_key=secret_key,
        )
        return Image.from_reply(object_of(data, "the trusted keys"), id=image_id).trusted_keys

    async def transfer(
        self,
        image_id: str,
        to_public_key: str,
        *,
        public_key: str | None = None,
        secret_key: str | None = None,
    ) -> Image:
        """``POST /images/{id}/transfer`` ``{"to_api_key"}``: hand the image to another
        account (it becomes the owner)."""
        body = {"to_api_key": _key("to_public_key", to_public_key)}
        return await self._post("transfer", image_id, body, None, public_key, secret_key)

    async def spawn(
        self,
        image_id: str,
        *,
        name: str | None = None,
        ports: PortList | None = None,
        bootstrap: str | None = None,
        network_mode: str = "zerotrust",
        vcpu: int = 1,
        public_key: str | None = None,
        secret_key: str | None = None,
    ) -> Service:
        """``POST /images/{id}/spawn`` ``{"name"?, "ports"?, "bootstrap"?, "network_mode",
        "vcpu"?}``: a new service from the image (409 when the name is taken)."""
        body: dict[str, Any] = {
            "network_mode": check_choice("network_mode", network_mode, NETWORK_MODES)
        }
        if name:
            body["name"] = name
        if ports:
            body["ports"] = check_ports(ports)
        if bootstrap:
            body["bootstrap"] = bootstrap
        if check_vcpu(vcpu) > 1:
            body["vcpu"] = vcpu
        data = await self._call(
            "images.spawn",
            "POST",
            _path(image_id, "spawn"),
            body=body,
            public_key=public_key,
            secret_key=secret_key,
        )
        return Service.from_reply(object_of(data, "the spawned service"))

    async def clone(
        self,
        image_id: str,
        *,
        name: str | None = None,
        description: str | None = None,
        public_key: str | None = None,
        secret_key: str | None = None,
    ) -> Image:
        """``POST /images/{id}/clone`` ``{"name"?, "description"?}``: a private copy owned
        by the caller, trusting nobody."""
        body: dict[str, Any] = {}
        if name:
            body["name"] = name
        if description:
            body["description"] = description
        data = await self._call(
            "images.clone",
            "POST",
            _path(image_id, "clone"),
            body=body,
            public_key=public_key,
            secret_key=secret_key,
        )
        return Image.from_reply(object_of(data, "the cloned image"))

    async def _post(
        self,
        action: str,
        image_id: str,
        body: Mapping[str, Any],
        otp: Otp,
        public_key: str | None,
        secret_key: str | None,
        operation: str = "",
    ) -> Image:
        data = await self._call(
            operation or f"images.{action}",
            "POST",
            _path(image_id, action),
            body=body,
            otp=otp,
            public_key=public_key,
            secret_key=secret_key,
        )
        return Image.from_reply(object_of(data, f"the {action} reply"), id=image_id)
