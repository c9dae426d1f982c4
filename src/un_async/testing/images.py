"""Image endpoints of the fake server (spec §3.7).

Who sees an image: its owner, the keys it trusts, and anyone for ``public`` (listed) or
``unlisted`` (by id only) images; to everyone else it does not exist (404). Only the owner
may change it: a visible image answers 403 ``forbidden`` to anyone else. A locked image
refuses ``DELETE`` with 409 ``locked``; ``DELETE`` and ``unlock`` need sudo (spec §2.5).
``transfer`` ``{"to_api_key"}`` hands the image to another known account (404 for an
unknown key); ``spawn`` creates a service owned by the caller (its reply carries
``source_image``); ``clone`` creates a private copy owned by the caller, trusting nobody.

Disputed points and the choices made here:

* Publishing: ``POST /images`` (C, Python, JS, Go) and ``POST /images/publish`` (about 30
  other clients) are both served; the reply carries ``id`` and ``image_id``.
* Listing: ``GET /images/{owned|shared|public}`` (C CLI, Python, JS) and
  ``GET /images?filter=...`` (C library) are both served; plain ``GET /images`` lists
  every image the caller may use (owned, shared with it, public).
* Access grants: ``/grant`` and ``/revoke`` with ``{"trusted_api_key"}`` (C, Python, JS:
  the mainline clients); ``api_key`` is accepted as an alias. The ``/access``,
  ``/grant-access`` and ``/access/grant`` variants of other clients are not served.
* ``GET /images/{id}/trusted`` answers ``trusted_keys`` (Python's docs) and the same list
  as ``trusted`` (what JS reads).
"""

from __future__ import annotations

from aiohttp import web

from .access_control import ACCOUNT
from .fake_state import FakeState
from .http_replies import HTTPError, bad_request, conflict, json_response, not_found
from .payload_checks import optional_string, parse_object
from .resource_records import FakeImage
from .services import check_service_name, new_service

__all__ = ["IMAGE_FILTERS", "VISIBILITIES", "ImageRoutes"]

VISIBILITIES = frozenset({"private", "unlisted", "public"})
IMAGE_FILTERS = ("owned", "shared", "public")


def _trusted_key(payload: dict[str, object]) -> str:
    value = payload.get("trusted_api_key", payload.get("api_key"))
    if not isinstance(value, str) or not value:
        raise bad_request("trusted_api_key is required")
    return value


class ImageRoutes:
    """``/images`` handlers over the shared state."""

    def __init__(self, state: FakeState) -> None:
        self.state = state

    def register(self, router: web.UrlDispatcher) -> None:
        """Add this group's routes to ``router`` (the fixed listing paths before
        ``/images/{id}``)."""
        router.add_post("/images", self.publish)
        router.add_post("/images/publish", self.publish)
        router.add_get("/images", self.list_images)
        for name in IMAGE_FILTERS:
            router.add_get(f"/images/{name}", self.list_images)
        router.add_get("/images/{id}", self.get)
        router.add_delete("/images/{id}", self.delete)
        router.add_post("/images/{id}/lock", self.lock)
        router.add_post("/images/{id}/unlock", self.unlock)
        router.add_post("/images/{id}/visibility", self.visibility)
        router.add_post("/images/{id}/grant", self.grant)
        router.add_post("/images/{id}/revoke", self.revoke)
        router.add_get("/images/{id}/trusted", self.trusted)
        router.add_post("/images/{id}/transfer", self.transfer)
        router.add_post("/images/{id}/spawn", self.spawn)
        router.add_post("/images/{id}/clone", self.clone)

    # --- lookups ----------------------------------------------------------------------

    def _visible(self, request: web.Request) -> FakeImage:
        image = self.state.images.get(request.match_info["id"])
        if image is None or image.access_for(request[ACCOUNT].public_key) is None:
            raise not_found("image")
        return image

    def _owned(self, request: web.Request) -> FakeImage:
        image = self._visible(request)
        if image.owner != request[ACCOUNT].public_key:
            raise HTTPError(403, "forbidden", "Only the image owner may do this")
        return image

    def _reply(self, request: web.Request, image: FakeImage, message: str) -> web.Response:
        viewer = request[ACCOUNT].public_key
        return json_response({**image.view(viewer), "message": message})

    # --- handlers ---------------------------------------------------------------------

    async def publish(self, request: web.Request) -> web.StreamResponse:
        """``POST /images`` or ``/images/publish`` ``{"source_type", "source_id",
        "name"?, "description"?}``."""
        payload = parse_object(await request.read(), allow_empty=False)
        source_type = payload.get("source_type")
        source_id = optional_string(payload, "source_id")
        if source_type not in ("service", "snapshot") or not source_id:
            raise bad_request("give source_type ('service' or 'snapshot') and source_id")
        owner = request[ACCOUNT].public_key
        state = self.state
        size = 104_857_600
        if source_type == "service":
            service = state.services.get(source_id)
            if service is None or service.account != owner:
                raise not_found("service")
        else:
            snapshot = state.snapshots.get(source_id)
            if snapshot is None or snapshot.account != owner:
                raise not_found("snapshot")
            size = snapshot.size_bytes
        name = optional_string(payload, "name")
        image_id = state.add_image(
            owner,
            source_type=source_type,
            source_id=source_id,
            description=optional_string(payload, "description") or "",
            size_bytes=size,
            **({"name": name} if name else {}),
        )
        image = state.images[image_id]
        return json_response({**image.view(owner), "image_id": image_id, "message": "Published"})

    async def list_images(self, request: web.Request) -> web.StreamResponse:
        """``GET /images[?filter=owned|shared|public]`` or ``/images/{filter}`` →
        ``{"images": [...], "count": N}``."""
        viewer = request[ACCOUNT].public_key
        last = request.path.rstrip("/").rsplit("/", 1)[-1]
        which = last if last in IMAGE_FILTERS else request.query.get("filter", "all")
        if which not in (*IMAGE_FILTERS, "all"):
            raise bad_request("filter must be owned, shared or public")
        found = []
        for image in self.state.images.values():
            access = image.access_for(viewer)
            listed = {
                "all": access in ("owner", "trusted") or image.visibility == "public",
                "owned": access == "owner",
                "shared": access == "trusted",
                "public": image.visibility == "public",
            }[which]
            if listed:
                found.append(image.view(viewer))
        return json_response({"images": found, "count": len(found)})

    async def get(self, request: web.Request) -> web.StreamResponse:
        """``GET /images/{id}``: the image object as the caller may see it."""
        image = self._visible(request)
        return json_response(image.view(request[ACCOUNT].public_key))

    async def delete(self, request: web.Request) -> web.StreamResponse:
        """``DELETE /images/{id}`` (sudo): 409 while locked."""
        image = self._owned(request)
        if image.locked:
            raise conflict("locked", "Image is locked; unlock it first")
        self.state.require_sudo(request)
        del self.state.images[image.id]
        return json_response({"id": image.id, "status": "deleted", "message": "Image deleted"})

    async def lock(self, request: web.Request) -> web.StreamResponse:
        """``POST /images/{id}/lock``."""
        image = self._owned(request)
        parse_object(await request.read(), allow_empty=True)
        image.locked = True
        return self._reply(request, image, "Image locked")

    async def unlock(self, request: web.Request) -> web.StreamResponse:
        """``POST /images/{id}/unlock`` (sudo)."""
        image = self._owned(request)
        parse_object(await request.read(), allow_empty=True)
        self.state.require_sudo(request)
        image.locked = False
        return self._reply(request, image, "Image unlocked")

    async def visibility(self, request: web.Request) -> web.StreamResponse:
        """``POST /images/{id}/visibility`` ``{"visibility": private|unlisted|public}``."""
        image = self._owned(request)
        payload = parse_object(await request.read(), allow_empty=False)
        value = payload.get("visibility")
        if value not in VISIBILITIES:
            raise bad_request("visibility must be private, unlisted or public")
        image.visibility = str(value)
        return self._reply(request, image, f"Image is now {value}")

    async def grant(self, request: web.Request) -> web.StreamResponse:
        """``POST /images/{id}/grant`` ``{"trusted_api_key"}``: updated ``trusted_keys``."""
        image = self._owned(request)
        key = _trusted_key(parse_object(await request.read(), allow_empty=False))
        if key == image.owner:
            raise bad_request("the owner already has access")
        if key not in image.trusted_keys:
            image.trusted_keys.append(key)
        return self._reply(request, image, "Access granted")

    async def revoke(self, request: web.Request) -> web.StreamResponse:
        """``POST /images/{id}/revoke`` ``{"trusted_api_key"}`` (revoking an untrusted key
        is a no-op)."""
        image = self._owned(request)
        key = _trusted_key(parse_object(await request.read(), allow_empty=False))
        if key in image.trusted_keys:
            image.trusted_keys.remove(key)
        return self._reply(request, image, "Access revoked")

    async def trusted(self, request: web.Request) -> web.StreamResponse:
        """``GET /images/{id}/trusted`` → ``{"trusted_keys": [...], "trusted": [...]}``."""
        image = self._owned(request)
        keys = list(image.trusted_keys)
        return json_response({"id": image.id, "trusted_keys": keys, "trusted": keys})

    async def transfer(self, request: web.Request) -> web.StreamResponse:
        """``POST /images/{id}/transfer`` ``{"to_api_key"}``: the owner changes."""
        image = self._owned(request)
        payload = parse_object(await request.read(), allow_empty=False)
        to_key = optional_string(payload, "to_api_key")
        if not to_key:
            raise bad_request("to_api_key is required")
        if to_key == image.owner:
            raise bad_request("the image already belongs to that key")
        if to_key not in self.state.accounts:
            raise not_found("account")
        image.owner = to_key
        if to_key in image.trusted_keys:
            image.trusted_keys.remove(to_key)
        return json_response(
            {"id": image.id, "owner_api_key": to_key, "message": "Image transferred"}
        )

    async def spawn(self, request: web.Request) -> web.StreamResponse:
        """``POST /images/{id}/spawn``: a new service for the caller (``name``,
        ``ports`` as an int array or a comma string, ``bootstrap``, ``network_mode``,
        ``vcpu``); 409 when the name is taken."""
        image = self._visible(request)
        payload = parse_object(await request.read(), allow_empty=True)
        name = optional_string(payload, "name")
        if name is not None:
            check_service_name(self.state, name)
        service = new_service(
            self.state, request[ACCOUNT].public_key, name, payload, source_image=image.id
        )
        return json_response({**service.view(), "message": "Service spawned from image"})

    async def clone(self, request: web.Request) -> web.StreamResponse:
        """``POST /images/{id}/clone`` ``{"name"?, "description"?}``: a private copy."""
        image = self._visible(request)
        payload = parse_object(await request.read(), allow_empty=True)
        owner = request[ACCOUNT].public_key
        name = optional_string(payload, "name") or f"{image.name}-copy"
        description = optional_string(payload, "description")
        clone_id = self.state.add_image(
            owner,
            name=name,
            description=image.description if description is None else description,
            source_type="image",
            source_id=image.id,
            size_bytes=image.size_bytes,
        )
        clone = self.state.images[clone_id]
        return json_response({**clone.view(owner), "image_id": clone_id, "message": "Cloned"})
