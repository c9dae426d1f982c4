"""``client.snapshots`` against the fake server: each method's happy path, and the 403,
409 and 428 refusals (404 and unsupported backends: ``test_error_paths``)."""

from __future__ import annotations

import pytest

from support.resource_calls import add_snapshot, only_request
from un_async import (
    AsyncClient,
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    Snapshot,
    SudoRequiredError,
    ValidationError,
)
from un_async.resources import SnapshotClone
from un_async.testing import TEST_PUBLIC_KEY, FakeUnsandbox

ZSH = "zsh"


async def test_list_and_get(fake: FakeUnsandbox, api: AsyncClient, other_key: str) -> None:
    session_id = fake.add_session()
    first = add_snapshot(fake, session_id, name="first")
    second = add_snapshot(fake, fake.add_service(), name="second", locked=True)
    add_snapshot(fake, fake.add_session(other_key))

    listed = await api.snapshots.list()
    got = await api.snapshots.get(first)

    assert sorted(s.id for s in listed) == sorted([first, second])
    assert all(isinstance(s, Snapshot) for s in listed)
    assert (got.id, got.name, got.source_type, got.source_id, got.locked) == (
        first,
        "first",
        "session",
        session_id,
        False,
    )
    assert got["snapshot_id"] == first


@pytest.mark.parametrize("source_type", ["session", "service"])
async def test_create_from_a_session_or_service(
    source_type: str, fake: FakeUnsandbox, api: AsyncClient
) -> None:
    source = fake.add_session() if source_type == "session" else fake.add_service()
    count = len(fake.requests)

    snapshot = await api.snapshots.create(source_type, source, name="nightly", hot=True)

    request = only_request(fake, count)
    assert (request.method, request.path) == ("POST", f"/{source_type}s/{source}/snapshot")
    assert request.json() == {"hot": True, "name": "nightly"}
    assert (snapshot.source_type, snapshot.source_id, snapshot.hot) == (source_type, source, True)
    assert fake.snapshots[snapshot.id].name == "nightly"


async def test_create_errors(fake: FakeUnsandbox, api: AsyncClient) -> None:
    with pytest.raises(ValidationError):
        await api.snapshots.create("image", "unsb-image-1")
    with pytest.raises(ValidationError):
        await api.snapshots.create("session", fake.add_session(), hot="yes")  # type: ignore[arg-type]
    assert fake.request_count == 0
    fake.accounts[TEST_PUBLIC_KEY].tier = "free"
    with pytest.raises(PermissionDeniedError, match="free tier"):
        await api.snapshots.create("session", fake.add_session())


async def test_restore_into_the_source(fake: FakeUnsandbox, api: AsyncClient) -> None:
    session_id = fake.add_session()
    snapshot_id = add_snapshot(fake, session_id)

    restored = await api.snapshots.restore(snapshot_id)

    assert fake.requests[-1].body == b""
    assert (restored["id"], restored["session_id"], restored["type"]) == (
        snapshot_id,
        session_id,
        "session",
    )


async def test_restore_on_another_account_is_not_found(
    fake: FakeUnsandbox, api: AsyncClient, other_key: str
) -> None:
    theirs = add_snapshot(fake, fake.add_session(other_key))
    with pytest.raises(NotFoundError, match="snapshot not found"):
        await api.snapshots.restore(theirs)


async def test_lock_unlock_delete_with_sudo(
    fake: FakeUnsandbox, api: AsyncClient, sudo: str
) -> None:
    snapshot_id = add_snapshot(fake, fake.add_session())

    locked = await api.snapshots.lock(snapshot_id)
    with pytest.raises(ConflictError, match="locked"):
        await api.snapshots.delete(snapshot_id, otp=sudo)
    with pytest.raises(SudoRequiredError):
        await api.snapshots.unlock(snapshot_id)
    unlocked = await api.snapshots.unlock(snapshot_id, otp=sudo)
    with pytest.raises(SudoRequiredError):
        await api.snapshots.delete(snapshot_id)
    deleted = await api.snapshots.delete(snapshot_id, otp=sudo)

    assert (locked.locked, unlocked.locked) == (True, False)
    assert (deleted["id"], deleted["status"]) == (snapshot_id, "deleted")
    assert snapshot_id not in fake.snapshots
    lock_request = next(r for r in fake.requests if r.path.endswith("/lock"))
    assert lock_request.body == b"{}"


async def test_clone_to_a_session_and_to_a_service(fake: FakeUnsandbox, api: AsyncClient) -> None:
    snapshot_id = add_snapshot(fake, fake.add_service())
    count = len(fake.requests)

    session = await api.snapshots.clone(snapshot_id, shell=ZSH)
    service = await api.snapshots.clone(snapshot_id, "service", name="copy", ports=[80, 443])

    first, second = fake.requests[count:]
    assert (first.json(), second.json()) == (
        {"type": "session", "shell": "zsh"},
        {"type": "service", "name": "copy", "ports": [80, 443]},
    )
    assert isinstance(session, SnapshotClone)
    assert (session.type, session.id) == ("session", session["session_id"])
    assert "service_id" not in session
    assert fake.sessions[session.id].shell == "zsh"
    assert (service.type, fake.services[service.id].name) == ("service", "copy")


async def test_clone_errors(fake: FakeUnsandbox, api: AsyncClient) -> None:
    snapshot_id = add_snapshot(fake, fake.add_service(name="taken"))
    with pytest.raises(ValidationError):
        await api.snapshots.clone(snapshot_id, "image")
    with pytest.raises(ConflictError) as info:
        await api.snapshots.clone(snapshot_id, "service", name="taken")
    assert info.value.error == "name_taken"
