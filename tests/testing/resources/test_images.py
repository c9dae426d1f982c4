"""Image endpoints of the fake server (spec §3.7): a happy and an error path per route."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from support.signed_http import Reply
from un_async.testing import TEST_PUBLIC_KEY, FakeUnsandbox

Call = Callable[..., Awaitable[Reply]]


async def publish(fake: FakeUnsandbox, call: Call, **options: object) -> str:
    """An image of a new service of the test account."""
    payload = {"source_type": "service", "source_id": fake.add_service(), **options}
    reply = await call("POST", "/images", payload)
    assert reply.status == 200, reply.body
    image_id: str = reply.json()["id"]
    return image_id


# --- publish, list, get --------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/images", "/images/publish"])
async def test_publish_from_a_service_or_a_snapshot(
    fake: FakeUnsandbox, call: Call, path: str
) -> None:
    service_id = fake.add_service()
    snapshot = await call("POST", f"/services/{service_id}/snapshot", {})
    from_service = {"source_type": "service", "source_id": service_id, "name": "base"}
    from_snapshot = {
        "source_type": "snapshot",
        "source_id": snapshot.json()["id"],
        "description": "nightly",
    }

    first = (await call("POST", path, from_service)).json()
    second = (await call("POST", path, from_snapshot)).json()

    assert first["image_id"] == first["id"]
    assert first["id"].startswith("unsb-image-")
    assert (first["name"], first["visibility"], first["locked"]) == ("base", "private", False)
    assert len(first["fingerprint"]) == 64
    assert (second["source_type"], second["description"]) == ("snapshot", "nightly")
    assert first["trusted_keys"] == []
    assert first["owner_api_key"] == TEST_PUBLIC_KEY


@pytest.mark.parametrize(
    "payload",
    [
        {"source_type": "session", "source_id": "x"},
        {"source_type": "service"},
        {"source_type": "service", "source_id": "unsb-service-none"},
    ],
)
async def test_publish_errors(fake: FakeUnsandbox, call: Call, payload: dict[str, str]) -> None:
    reply = await call("POST", "/images", payload)
    assert reply.status in (400, 404)
    assert fake.images == {}


async def test_publishing_another_accounts_service_is_not_found(
    fake: FakeUnsandbox, call_other: Call
) -> None:
    payload = {"source_type": "service", "source_id": fake.add_service()}
    assert (await call_other("POST", "/images", payload)).status == 404


async def test_list_all_owned_shared_public(
    fake: FakeUnsandbox, call: Call, other_key: str
) -> None:
    mine = await publish(fake, call)
    shared = fake.add_image(other_key, trusted_keys=[TEST_PUBLIC_KEY])
    public = fake.add_image(other_key, visibility="public")
    fake.add_image(other_key, visibility="unlisted")
    fake.add_image(other_key)

    async def ids(path: str) -> list[str]:
        body = (await call("GET", path)).json()
        assert body["count"] == len(body["images"])
        return sorted(image["id"] for image in body["images"])

    assert await ids("/images") == sorted([mine, shared, public])
    assert await ids("/images/owned") == [mine]
    assert await ids("/images/shared") == [shared]
    assert await ids("/images/public") == [public]
    assert await ids("/images?filter=shared") == [shared]


async def test_list_with_an_unknown_filter(call: Call) -> None:
    assert (await call("GET", "/images?filter=mine")).status == 400


async def test_get_shows_owner_details_to_the_owner_only(
    fake: FakeUnsandbox, call: Call, call_other: Call, other_key: str
) -> None:
    image_id = await publish(fake, call)
    await call("POST", f"/images/{image_id}/grant", {"trusted_api_key": other_key})

    as_owner = (await call("GET", f"/images/{image_id}")).json()
    as_trusted = (await call_other("GET", f"/images/{image_id}")).json()

    assert (as_owner["access"], as_owner["trusted_keys"]) == ("owner", [other_key])
    assert as_trusted["access"] == "trusted"
    assert "trusted_keys" not in as_trusted
    assert "owner_api_key" not in as_trusted


async def test_get_visibility_rules(fake: FakeUnsandbox, call: Call, call_other: Call) -> None:
    image_id = await publish(fake, call)
    assert (await call_other("GET", f"/images/{image_id}")).status == 404
    await call("POST", f"/images/{image_id}/visibility", {"visibility": "unlisted"})
    assert (await call_other("GET", f"/images/{image_id}")).json()["access"] == "unlisted"
    assert (await call_other("GET", "/images")).json()["count"] == 0


# --- delete, lock, unlock ------------------------------------------------------------------


async def test_delete_needs_sudo(fake: FakeUnsandbox, call: Call, confirm: Call) -> None:
    image_id = await publish(fake, call)
    deleted = await confirm("DELETE", f"/images/{image_id}")
    assert deleted.json() == {"id": image_id, "status": "deleted", "message": "Image deleted"}
    assert fake.images == {}


async def test_a_locked_image_refuses_deletion(
    fake: FakeUnsandbox, call: Call, confirm: Call
) -> None:
    image_id = await publish(fake, call)
    assert (await call("POST", f"/images/{image_id}/lock", {})).json()["locked"] is True
    refused = await call("DELETE", f"/images/{image_id}")
    assert (refused.status, refused.json()["error"]) == (409, "locked")

    assert (await confirm("POST", f"/images/{image_id}/unlock", {})).json()["locked"] is False
    assert (await confirm("DELETE", f"/images/{image_id}")).status == 200


async def test_only_the_owner_may_delete_lock_or_unlock(
    fake: FakeUnsandbox, call: Call, call_other: Call, confirm: Call
) -> None:
    image_id = await publish(fake, call, name="shared")
    await call("POST", f"/images/{image_id}/visibility", {"visibility": "public"})
    fake.images[image_id].locked = True

    for method, path in (
        ("DELETE", f"/images/{image_id}"),
        ("POST", f"/images/{image_id}/lock"),
        ("POST", f"/images/{image_id}/unlock"),
    ):
        reply = await call_other(method, path)
        assert (reply.status, reply.json()["error"]) == (403, "forbidden"), path
    wrong = await call(
        "POST", f"/images/{image_id}/unlock", headers={"X-Sudo-OTP": "1", "X-Sudo-Challenge": "c"}
    )
    assert wrong.status == 403
    assert fake.images[image_id].locked is True


# --- visibility, grant, revoke, trusted -----------------------------------------------------


async def test_visibility(fake: FakeUnsandbox, call: Call) -> None:
    image_id = await publish(fake, call)
    for value in ("public", "unlisted", "private"):
        body = (await call("POST", f"/images/{image_id}/visibility", {"visibility": value})).json()
        assert body["visibility"] == value


async def test_visibility_errors(fake: FakeUnsandbox, call: Call) -> None:
    image_id = await publish(fake, call)
    assert (
        await call("POST", f"/images/{image_id}/visibility", {"visibility": "world"})
    ).status == 400
    assert (await call("POST", f"/images/{image_id}/visibility", {})).status == 400
    assert fake.images[image_id].visibility == "private"


async def test_grant_trusted_revoke(
    fake: FakeUnsandbox, call: Call, call_other: Call, other_key: str
) -> None:
    image_id = await publish(fake, call)

    granted = (
        await call("POST", f"/images/{image_id}/grant", {"trusted_api_key": other_key})
    ).json()
    again = (await call("POST", f"/images/{image_id}/grant", {"api_key": other_key})).json()
    trusted = (await call("GET", f"/images/{image_id}/trusted")).json()
    shared = (await call_other("GET", "/images/shared")).json()

    assert granted["trusted_keys"] == again["trusted_keys"] == [other_key]
    assert trusted == {"id": image_id, "trusted_keys": [other_key], "trusted": [other_key]}
    assert [image["id"] for image in shared["images"]] == [image_id]

    revoked = (
        await call("POST", f"/images/{image_id}/revoke", {"trusted_api_key": other_key})
    ).json()
    assert revoked["trusted_keys"] == []
    assert (await call_other("GET", f"/images/{image_id}")).status == 404


async def test_grant_revoke_trusted_errors(
    fake: FakeUnsandbox, call: Call, call_other: Call, other_key: str
) -> None:
    image_id = await publish(fake, call)
    assert (await call("POST", f"/images/{image_id}/grant", {})).status == 400
    owner = await call("POST", f"/images/{image_id}/grant", {"trusted_api_key": TEST_PUBLIC_KEY})
    assert owner.status == 400
    assert (await call("POST", f"/images/{image_id}/revoke", {"trusted_api_key": 3})).status == 400
    await call("POST", f"/images/{image_id}/grant", {"trusted_api_key": other_key})
    assert (await call_other("GET", f"/images/{image_id}/trusted")).status == 403
    assert (
        await call_other("POST", f"/images/{image_id}/revoke", {"trusted_api_key": other_key})
    ).status == 403


# --- transfer, spawn, clone -----------------------------------------------------------------


async def test_transfer_changes_the_owner(
    fake: FakeUnsandbox, call: Call, call_other: Call, other_key: str
) -> None:
    image_id = await publish(fake, call)

    moved = (await call("POST", f"/images/{image_id}/transfer", {"to_api_key": other_key})).json()

    assert moved["owner_api_key"] == other_key
    assert fake.images[image_id].owner == other_key
    assert (await call("GET", f"/images/{image_id}")).status == 404
    assert (await call_other("GET", f"/images/{image_id}")).json()["access"] == "owner"


async def test_transfer_errors(fake: FakeUnsandbox, call: Call) -> None:
    image_id = await publish(fake, call)
    path = f"/images/{image_id}/transfer"
    assert (await call("POST", path, {})).status == 400
    assert (await call("POST", path, {"to_api_key": TEST_PUBLIC_KEY})).status == 400
    assert (await call("POST", path, {"to_api_key": "unsb-pk-nobody"})).status == 404
    assert fake.images[image_id].owner == TEST_PUBLIC_KEY


async def test_spawn_creates_a_service_for_the_caller(
    fake: FakeUnsandbox, call: Call, call_other: Call, other_key: str
) -> None:
    image_id = await publish(fake, call)
    await call("POST", f"/images/{image_id}/grant", {"trusted_api_key": other_key})
    options = {
        "name": "from-image",
        "ports": "8080,9090",
        "bootstrap": "serve",
        "network_mode": "zerotrust",
    }

    body = (await call_other("POST", f"/images/{image_id}/spawn", options)).json()

    service = fake.services[body["service_id"]]
    assert body["id"] == body["service_id"]
    assert (body["source_image"], service.account) == (image_id, other_key)
    assert (service.name, service.ports, service.network_mode) == (
        "from-image",
        [8080, 9090],
        "zerotrust",
    )


async def test_spawn_errors(fake: FakeUnsandbox, call: Call, call_other: Call) -> None:
    image_id = await publish(fake, call)
    taken = fake.services[fake.images[image_id].source_id].name
    assert (await call("POST", f"/images/{image_id}/spawn", {"name": taken})).status == 409
    assert (await call_other("POST", f"/images/{image_id}/spawn", {"name": "x"})).status == 404
    assert len(fake.services) == 1


async def test_clone_is_a_private_copy_of_the_callers_own(
    fake: FakeUnsandbox, call: Call, call_other: Call, other_key: str
) -> None:
    image_id = await publish(fake, call, name="base", description="tools")
    await call("POST", f"/images/{image_id}/visibility", {"visibility": "public"})
    await call("POST", f"/images/{image_id}/grant", {"trusted_api_key": other_key})

    body = (await call_other("POST", f"/images/{image_id}/clone", {"name": "mine"})).json()

    assert body["image_id"] == body["id"] != image_id
    assert (body["name"], body["description"], body["visibility"]) == ("mine", "tools", "private")
    assert (body["trusted_keys"], body["source_id"]) == ([], image_id)
    assert fake.images[body["id"]].owner == other_key


async def test_clone_of_an_invisible_image(
    fake: FakeUnsandbox, call: Call, call_other: Call
) -> None:
    image_id = await publish(fake, call)
    assert (await call_other("POST", f"/images/{image_id}/clone", {})).status == 404
    assert (await call("POST", f"/images/{image_id}/clone", {"name": 1})).status == 400
    assert len(fake.images) == 1
