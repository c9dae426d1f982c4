"""``client.images`` against the fake server: each method's happy path, and the 403,
404, 409 and 428 refusals (unsupported backends: ``test_error_paths``)."""

from __future__ import annotations

import pytest

from support import fast_config
from support.resource_calls import OTHER_PUBLIC_KEY, OTHER_SECRET_KEY, add_snapshot, only_request
from un_async import (
    AsyncClient,
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    SudoRequiredError,
    ValidationError,
)
from un_async.resources import Image, Service
from un_async.testing import TEST_PUBLIC_KEY, FakeUnsandbox


@pytest.mark.parametrize("source", ["service", "snapshot"])
async def test_publish_from_a_service_or_snapshot(
    source: str, fake: FakeUnsandbox, api: AsyncClient
) -> None:
    service_id = fake.add_service()
    source_id = service_id if source == "service" else add_snapshot(fake, service_id)
    count = len(fake.requests)

    image = await api.images.publish(source, source_id, name="base", description="v1")

    request = only_request(fake, count)
    assert (request.method, request.path) == ("POST", "/images")
    assert request.json() == {
        "source_type": source,
        "source_id": source_id,
        "name": "base",
        "description": "v1",
    }
    assert isinstance(image, Image)
    assert (image.name, image.visibility, image.locked, image["image_id"]) == (
        "base",
        "private",
        False,
        image.id,
    )
    assert fake.images[image.id].source_id == source_id


async def test_publish_errors(fake: FakeUnsandbox, api: AsyncClient, other_key: str) -> None:
    with pytest.raises(ValidationError):
        await api.images.publish("session", fake.add_session())
    assert fake.request_count == 0
    with pytest.raises(NotFoundError):
        await api.images.publish("service", fake.add_service(other_key))


async def test_list_filters(fake: FakeUnsandbox, api: AsyncClient, other_key: str) -> None:
    mine = fake.add_image()
    shared = fake.add_image(other_key, trusted_keys=[TEST_PUBLIC_KEY])
    public = fake.add_image(other_key, visibility="public")
    fake.add_image(other_key)  # private, not shared: invisible

    found = {which: await api.images.list(which) for which in ("all", "owned", "shared", "public")}

    assert [r.path for r in fake.requests] == [
        "/images",
        "/images/owned",
        "/images/shared",
        "/images/public",
    ]
    assert {k: sorted(i.id for i in v) for k, v in found.items()} == {
        "all": sorted([mine, shared, public]),
        "owned": [mine],
        "shared": [shared],
        "public": [public],
    }


async def test_list_with_an_unknown_filter_is_refused(
    fake: FakeUnsandbox, api: AsyncClient
) -> None:
    with pytest.raises(ValidationError):
        await api.images.list("mine")
    assert fake.request_count == 0


async def test_get_and_its_visibility_rules(
    fake: FakeUnsandbox, api: AsyncClient, other_key: str
) -> None:
    mine = fake.add_image(name="base")
    theirs = fake.add_image(other_key)

    image = await api.images.get(mine)

    assert (image.id, image.name, image["owner_api_key"]) == (mine, "base", TEST_PUBLIC_KEY)
    assert TEST_PUBLIC_KEY not in repr(image)  # keys are masked in the repr
    with pytest.raises(NotFoundError):
        await api.images.get(theirs)


async def test_lock_unlock_delete_with_sudo(
    fake: FakeUnsandbox, api: AsyncClient, sudo: str
) -> None:
    image_id = fake.add_image()

    assert (await api.images.lock(image_id)).locked is True
    with pytest.raises(ConflictError, match="locked"):
        await api.images.delete(image_id, otp=sudo)
    with pytest.raises(SudoRequiredError):
        await api.images.unlock(image_id)
    assert (await api.images.unlock(image_id, otp=sudo)).locked is False
    with pytest.raises(SudoRequiredError):
        await api.images.delete(image_id)
    deleted = await api.images.delete(image_id, otp=sudo)

    assert (deleted.id, deleted["status"]) == (image_id, "deleted")
    assert image_id not in fake.images


async def test_only_the_owner_changes_an_image(
    fake: FakeUnsandbox, api: AsyncClient, other_key: str
) -> None:
    shared = fake.add_image(other_key, trusted_keys=[TEST_PUBLIC_KEY])
    for change in (
        api.images.lock(shared),
        api.images.set_visibility(shared, "public"),
        api.images.grant(shared, TEST_PUBLIC_KEY),
        api.images.revoke(shared, TEST_PUBLIC_KEY),
        api.images.trusted(shared),
        api.images.transfer(shared, TEST_PUBLIC_KEY),
    ):
        with pytest.raises(PermissionDeniedError, match="Only the image owner"):
            await change


async def test_visibility(fake: FakeUnsandbox, api: AsyncClient) -> None:
    image_id = fake.add_image()
    image = await api.images.set_visibility(image_id, "unlisted")
    assert fake.requests[-1].json() == {"visibility": "unlisted"}
    assert image.visibility == "unlisted"
    with pytest.raises(ValidationError):
        await api.images.set_visibility(image_id, "secret")


async def test_grant_revoke_and_trusted(
    fake: FakeUnsandbox, api: AsyncClient, other_key: str
) -> None:
    image_id = fake.add_image()

    granted = await api.images.grant(image_id, other_key)
    trusted = await api.images.trusted(image_id)
    revoked = await api.images.revoke(image_id, other_key)

    assert fake.requests[0].json() == {"trusted_api_key": other_key}
    assert (granted.trusted_keys, trusted, revoked.trusted_keys) == ([other_key], [other_key], [])
    with pytest.raises(ValidationError):
        await api.images.grant(image_id, "")


async def test_transfer_changes_the_owner(
    fake: FakeUnsandbox, api: AsyncClient, other_key: str
) -> None:
    image_id = fake.add_image()

    moved = await api.images.transfer(image_id, other_key)

    assert fake.requests[-1].json() == {"to_api_key": other_key}
    assert (moved.id, moved["owner_api_key"]) == (image_id, other_key)
    assert fake.images[image_id].owner == other_key
    with pytest.raises(NotFoundError):
        await api.images.transfer(fake.add_image(), "unsb-pk-nobody-0000-0000-0000")


async def test_spawn_creates_a_service(fake: FakeUnsandbox, api: AsyncClient) -> None:
    image_id = fake.add_image()

    service = await api.images.spawn(
        image_id, name="from-image", ports=[8080], bootstrap="./start.sh", vcpu=2
    )

    assert fake.requests[-1].json() == {
        "network_mode": "zerotrust",
        "name": "from-image",
        "ports": [8080],
        "bootstrap": "./start.sh",
        "vcpu": 2,
    }
    assert isinstance(service, Service)
    assert (service.name, service["source_image"]) == ("from-image", image_id)
    assert fake.services[service.id].ports == [8080]


async def test_spawn_with_a_taken_name_is_a_conflict(fake: FakeUnsandbox, api: AsyncClient) -> None:
    fake.add_service(name="taken")
    with pytest.raises(ConflictError):
        await api.images.spawn(fake.add_image(), name="taken")


async def test_clone_makes_a_private_copy(fake: FakeUnsandbox, other_key: str) -> None:
    public = fake.add_image(TEST_PUBLIC_KEY, visibility="public", trusted_keys=[other_key])
    other = {"public_key": OTHER_PUBLIC_KEY, "secret_key": OTHER_SECRET_KEY}

    async with AsyncClient(config=fast_config(fake), **other) as theirs:
        clone = await theirs.images.clone(public, name="mine-now", description="fork")
        with pytest.raises(PermissionDeniedError):
            await theirs.images.lock(public)

    assert fake.requests[-2].json() == {"name": "mine-now", "description": "fork"}
    stored = fake.images[clone.id]
    assert (stored.owner, stored.visibility, stored.trusted_keys) == (other_key, "private", [])
    assert (clone.name, clone.trusted_keys) == ("mine-now", [])
