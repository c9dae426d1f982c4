"""Snapshot endpoints of the fake server (spec §3.6): a happy and an error path per route."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from support.signed_http import Reply
from un_async.testing import FakeAccount, FakeUnsandbox

Call = Callable[..., Awaitable[Reply]]


async def snapshot_of_new_session(fake: FakeUnsandbox, call: Call, **options: object) -> str:
    session_id = fake.add_session()
    reply = await call("POST", f"/sessions/{session_id}/snapshot", options)
    assert reply.status == 200
    snapshot_id: str = reply.json()["id"]
    return snapshot_id


async def test_create_in_every_shape(fake: FakeUnsandbox, call: Call) -> None:
    session_id, service_id = fake.add_session(), fake.add_service()

    generic = await call("POST", "/snapshots", {"source_type": "service", "source_id": service_id})
    by_key = await call("POST", "/snapshots", {"session_id": session_id, "ephemeral": True})

    assert "snapshot_id" not in generic.json()
    assert generic.json()["source_type"] == "service"
    assert by_key.json()["snapshot_id"] == by_key.json()["id"]
    assert by_key.json()["hot"] is False
    assert len(fake.snapshots) == 2


async def test_create_errors(fake: FakeUnsandbox, call: Call, call_other: Call) -> None:
    session_id = fake.add_session()
    assert (await call("POST", "/snapshots", {"name": "x"})).status == 400
    assert (await call("POST", "/snapshots", {"source_type": "vm", "source_id": "x"})).status == 400
    assert (await call_other("POST", "/snapshots", {"session_id": session_id})).status == 404
    assert fake.snapshots == {}


async def test_the_free_tier_can_neither_create_nor_clone(fake: FakeUnsandbox, call: Call) -> None:
    snapshot_id = await snapshot_of_new_session(fake, call)
    account: FakeAccount = fake.accounts[fake.snapshots[snapshot_id].account]
    account.tier = "free"

    created = await call("POST", "/snapshots", {"session_id": fake.add_session()})
    cloned = await call("POST", f"/snapshots/{snapshot_id}/clone", {"type": "session"})

    assert (created.status, created.json()["error"]) == (403, "forbidden")
    assert cloned.status == 403
    assert len(fake.snapshots) == 1


async def test_list_and_get(fake: FakeUnsandbox, call: Call, call_other: Call) -> None:
    snapshot_id = await snapshot_of_new_session(fake, call, name="before", hot=True)

    listed = (await call("GET", "/snapshots")).json()
    one = (await call("GET", f"/snapshots/{snapshot_id}")).json()
    theirs = (await call_other("GET", "/snapshots")).json()

    assert (listed["count"], listed["snapshots"][0]["id"]) == (1, snapshot_id)
    assert (one["name"], one["hot"], one["type"], one["locked"]) == (
        "before",
        True,
        "session",
        False,
    )
    assert theirs == {"snapshots": [], "count": 0}


async def test_get_errors(fake: FakeUnsandbox, call: Call, call_other: Call) -> None:
    snapshot_id = await snapshot_of_new_session(fake, call)
    assert (await call("GET", "/snapshots/unsb-snapshot-none")).status == 404
    assert (await call_other("GET", f"/snapshots/{snapshot_id}")).status == 404


async def test_restore(fake: FakeUnsandbox, call: Call) -> None:
    snapshot_id = await snapshot_of_new_session(fake, call)
    source = fake.snapshots[snapshot_id].source_id
    body = (await call("POST", f"/snapshots/{snapshot_id}/restore", {})).json()
    assert body == {
        "id": snapshot_id,
        "type": "session",
        "message": "Snapshot restored",
        "session_id": source,
    }


async def test_restore_of_an_unknown_snapshot(call: Call) -> None:
    assert (await call("POST", "/snapshots/unsb-snapshot-none/restore", {})).status == 404


async def test_delete_needs_sudo(fake: FakeUnsandbox, call: Call, confirm: Call) -> None:
    snapshot_id = await snapshot_of_new_session(fake, call)
    deleted = await confirm("DELETE", f"/snapshots/{snapshot_id}")
    assert deleted.json()["status"] == "deleted"
    assert fake.snapshots == {}


async def test_locked_snapshot_refuses_deletion_until_unlocked(
    fake: FakeUnsandbox, call: Call, confirm: Call
) -> None:
    snapshot_id = await snapshot_of_new_session(fake, call)
    path = f"/snapshots/{snapshot_id}"
    assert (await call("POST", path + "/lock", {})).json()["locked"] is True

    refused = await call("DELETE", path)
    assert (refused.status, refused.json()["error"]) == (409, "locked")
    assert (await call("POST", path + "/unlock", {})).status == 428
    assert fake.snapshots[snapshot_id].locked is True

    assert (await confirm("POST", path + "/unlock", {})).json()["locked"] is False
    assert (await confirm("DELETE", path)).status == 200


async def test_lock_of_another_accounts_snapshot(
    fake: FakeUnsandbox, call: Call, call_other: Call
) -> None:
    snapshot_id = await snapshot_of_new_session(fake, call)
    assert (await call_other("POST", f"/snapshots/{snapshot_id}/lock", {})).status == 404
    assert fake.snapshots[snapshot_id].locked is False


async def test_clone_to_a_session(fake: FakeUnsandbox, call: Call) -> None:
    snapshot_id = await snapshot_of_new_session(fake, call)
    body = (
        await call("POST", f"/snapshots/{snapshot_id}/clone", {"type": "session", "shell": "sh"})
    ).json()
    assert body["session_id"] == body["id"]
    assert (body["type"], body["source_snapshot"]) == ("session", snapshot_id)
    assert fake.sessions[body["session_id"]].shell == "sh"


async def test_clone_to_a_service(fake: FakeUnsandbox, call: Call) -> None:
    snapshot_id = await snapshot_of_new_session(fake, call)
    options = {"type": "service", "name": "restored", "ports": [8000]}
    body = (await call("POST", f"/snapshots/{snapshot_id}/clone", options)).json()
    service = fake.services[body["service_id"]]
    assert (service.name, service.ports) == ("restored", [8000])


@pytest.mark.parametrize(
    ("options", "status"),
    [({"type": "vm"}, 400), ({"type": "service", "name": "taken"}, 409), ({"name": 5}, 400)],
)
async def test_clone_errors(
    fake: FakeUnsandbox, call: Call, options: dict[str, object], status: int
) -> None:
    fake.add_service(name="taken")
    snapshot_id = await snapshot_of_new_session(fake, call)
    reply = await call("POST", f"/snapshots/{snapshot_id}/clone", options)
    assert reply.status == status
    assert len(fake.services) == 1
    assert len(fake.sessions) == 1
