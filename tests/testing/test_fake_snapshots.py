"""Sessions and snapshots (spec §3.4, §3.6) and the sudo one-time-code flow (spec §2.5).

Spoken to over real loopback HTTP with a raw aiohttp client and an independent signer
(:mod:`support.signed_http`).
"""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from support.signed_http import send
from un_async.testing import TEST_PUBLIC_KEY, TEST_SECRET_KEY, FakeAccount, FakeUnsandbox

pytestmark = pytest.mark.usefixtures("no_server_errors")


async def test_session_crud(fake: FakeUnsandbox, http: aiohttp.ClientSession) -> None:
    created = (await send(http, fake, "POST", "/sessions", {"shell": "python3"})).json()
    assert created["session_id"] == created["id"]
    assert created["id"].startswith("unsb-session-")
    assert created["container_name"].startswith("unsb-vm-")
    assert (created["status"], created["shell"]) == ("running", "python3")
    listed = (await send(http, fake, "GET", "/sessions")).json()
    assert listed["count"] == 1
    one = (await send(http, fake, "GET", f"/sessions/{created['id']}")).json()
    assert one["id"] == created["id"]
    assert (await send(http, fake, "DELETE", f"/sessions/{created['id']}")).status == 200
    assert (await send(http, fake, "GET", f"/sessions/{created['id']}")).status == 404


async def test_snapshot_per_session_shape(fake: FakeUnsandbox, http: aiohttp.ClientSession) -> None:
    sid = fake.add_session()
    reply = await send(http, fake, "POST", f"/sessions/{sid}/snapshot", {"name": "s", "hot": True})
    body = reply.json()
    assert reply.status == 200
    assert body["id"].startswith("unsb-snapshot-")
    assert "snapshot_id" not in body
    assert (body["name"], body["hot"], body["source_id"]) == ("s", True, sid)


async def test_snapshot_generic_shapes(fake: FakeUnsandbox, http: aiohttp.ClientSession) -> None:
    sid = fake.add_session()
    by_key = (
        await send(http, fake, "POST", "/snapshots", {"session_id": sid, "hot": False})
    ).json()
    assert by_key["snapshot_id"] == by_key["id"]
    typed = {"source_type": "session", "source_id": sid, "name": "t"}
    by_type = (await send(http, fake, "POST", "/snapshots", typed)).json()
    assert "snapshot_id" not in by_type
    assert by_type["id"] in fake.snapshots
    ephemeral = {"session_id": sid, "ephemeral": False}
    assert (await send(http, fake, "POST", "/snapshots", ephemeral)).json()["hot"] is True
    service = fake.add_service()
    svc = (await send(http, fake, "POST", "/snapshots", {"service_id": service})).json()
    assert svc["source_type"] == "service"
    listed = (await send(http, fake, "GET", "/snapshots")).json()
    assert listed["count"] == len(listed["snapshots"]) == 4


@pytest.mark.parametrize(
    ("path", "payload"),
    [
        ("/sessions/unsb-session-none/snapshot", {"hot": False}),
        ("/snapshots", {"session_id": "unsb-session-none", "hot": False}),
        ("/snapshots", {"source_type": "session", "source_id": "unsb-session-none"}),
        ("/snapshots", {"service_id": "unsb-service-none"}),
    ],
)
async def test_snapshot_of_missing_source_is_404(
    fake: FakeUnsandbox, http: aiohttp.ClientSession, path: str, payload: dict[str, Any]
) -> None:
    reply = await send(http, fake, "POST", path, payload)
    assert (reply.status, reply.json()["error"]) == (404, "not_found")


async def test_snapshot_free_tier_forbidden(http: aiohttp.ClientSession) -> None:
    account = FakeAccount(public_key=TEST_PUBLIC_KEY, secret_key=TEST_SECRET_KEY, tier="free")
    async with FakeUnsandbox(accounts=[account]) as fake:
        sid = fake.add_session()
        reply = await send(http, fake, "POST", f"/sessions/{sid}/snapshot", {"hot": False})
        assert reply.status == 403


async def test_snapshot_get_restore_lock_delete(
    fake: FakeUnsandbox, http: aiohttp.ClientSession
) -> None:
    sid = fake.add_session()
    snap = (await send(http, fake, "POST", f"/sessions/{sid}/snapshot", {"hot": False})).json()
    path = f"/snapshots/{snap['id']}"
    info = (await send(http, fake, "GET", path)).json()
    assert (info["type"], info["source_id"], info["locked"]) == ("session", sid, False)
    for raw in (b"", b"{}"):
        restored = (await send(http, fake, "POST", path + "/restore", raw=raw)).json()
        assert restored == {
            "id": snap["id"],
            "type": "session",
            "message": "Snapshot restored",
            "session_id": sid,
        }
    assert (await send(http, fake, "POST", path + "/lock", raw=b"{}")).json()["locked"] is True
    assert (await send(http, fake, "DELETE", path)).status == 409
    assert (await send(http, fake, "POST", path + "/unlock", raw=b"{}")).json()["locked"] is False
    deleted = await send(http, fake, "DELETE", path)
    assert deleted.json() == {"id": snap["id"], "status": "deleted", "message": "Snapshot deleted"}
    assert (await send(http, fake, "GET", path)).status == 404


async def test_restore_into_new_session_when_source_is_gone(
    fake: FakeUnsandbox, http: aiohttp.ClientSession
) -> None:
    sid = fake.add_session()
    snap = (await send(http, fake, "POST", f"/sessions/{sid}/snapshot", {})).json()
    del fake.sessions[sid]
    restored = (await send(http, fake, "POST", f"/snapshots/{snap['id']}/restore")).json()
    assert restored["session_id"] in fake.sessions


@pytest.mark.parametrize("operation", ["delete_snapshot", "unlock_snapshot", "delete_session"])
async def test_sudo_otp_flow(http: aiohttp.ClientSession, operation: str) -> None:
    async with FakeUnsandbox(sudo_otp="424242") as fake:
        sid = fake.add_session()
        snap = (await send(http, fake, "POST", f"/sessions/{sid}/snapshot", {})).json()["id"]
        method, path = {
            "delete_snapshot": ("DELETE", f"/snapshots/{snap}"),
            "unlock_snapshot": ("POST", f"/snapshots/{snap}/unlock"),
            "delete_session": ("DELETE", f"/sessions/{sid}"),
        }[operation]
        challenge = await send(http, fake, method, path)
        assert challenge.status == 428
        challenge_id = challenge.json()["challenge_id"]
        wrong = {"X-Sudo-OTP": "000000", "X-Sudo-Challenge": challenge_id}
        assert (await send(http, fake, method, path, headers=wrong)).status == 403
        right = {"X-Sudo-OTP": "424242", "X-Sudo-Challenge": challenge_id}
        assert (await send(http, fake, method, path, headers=right)).status == 200
        replay = await send(http, fake, method, path, headers=right)
        assert replay.status in (403, 404)  # challenge consumed (or resource gone)
        assert challenge_id not in fake.sudo_challenges


async def test_sudo_not_required_when_unconfigured(
    fake: FakeUnsandbox, http: aiohttp.ClientSession
) -> None:
    sid = fake.add_session()
    assert (await send(http, fake, "DELETE", f"/sessions/{sid}")).status == 200
