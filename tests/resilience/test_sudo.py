"""Sudo confirmation (HTTP 428, spec §2.5) for destructive calls."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from support import MakeClient
from un_async import AsyncClient
from un_async.core.errors import PermissionDeniedError, SudoRequiredError
from un_async.testing import FakeUnsandbox, Fault

OTP = "246810"


@pytest.fixture
async def sudo_fake() -> AsyncIterator[FakeUnsandbox]:
    async with FakeUnsandbox(sudo_otp=OTP) as server:
        yield server


async def new_snapshot(fake: FakeUnsandbox, client: AsyncClient) -> str:
    return await client.session_snapshot(fake.add_session(), name="before-upgrade")


def snapshot_deletes(fake: FakeUnsandbox) -> list[dict[str, str]]:
    return [
        dict(r.headers)
        for r in fake.requests
        if r.method == "DELETE" and r.path.startswith("/snapshots/")
    ]


async def test_without_an_otp_a_typed_error_carries_the_challenge(
    sudo_fake: FakeUnsandbox, make_client: MakeClient
) -> None:
    client = make_client(sudo_fake)
    snapshot_id = await new_snapshot(sudo_fake, client)
    with pytest.raises(SudoRequiredError) as caught:
        await client.delete_snapshot(snapshot_id)
    assert caught.value.status == 428
    assert caught.value.challenge_id in sudo_fake.sudo_challenges
    assert snapshot_id in sudo_fake.snapshots
    assert len(snapshot_deletes(sudo_fake)) == 1


async def test_a_plain_otp_answers_the_challenge(
    sudo_fake: FakeUnsandbox, make_client: MakeClient
) -> None:
    client = make_client(sudo_fake)
    snapshot_id = await new_snapshot(sudo_fake, client)
    record = await client.delete_snapshot(snapshot_id, otp=OTP)
    assert record["status"] == "deleted"
    assert snapshot_id not in sudo_fake.snapshots
    first, second = snapshot_deletes(sudo_fake)
    assert "X-Sudo-OTP" not in first
    assert second["X-Sudo-OTP"] == OTP
    assert second["X-Sudo-Challenge"].startswith("chal_")
    assert not sudo_fake.sudo_challenges  # consumed


async def test_an_async_callback_receives_the_challenge_and_the_retry_is_re_signed(
    sudo_fake: FakeUnsandbox, make_client: MakeClient
) -> None:
    client = make_client(sudo_fake)
    snapshot_id = await new_snapshot(sudo_fake, client)
    asked: list[str] = []

    async def ask_user(challenge_id: str) -> str:
        asked.append(challenge_id)
        # time passes while the user reads the e-mail: move the client's clock on
        client.executor.requester.clock_offset += 90  # type: ignore[attr-defined]
        return OTP

    await client.delete_snapshot(snapshot_id, otp=ask_user)
    first, second = snapshot_deletes(sudo_fake)
    assert asked == [second["X-Sudo-Challenge"]]
    assert int(second["X-Timestamp"]) >= int(first["X-Timestamp"]) + 90
    assert second["X-Signature"] != first["X-Signature"]
    assert snapshot_id not in sudo_fake.snapshots


async def test_a_wrong_otp_is_refused_with_a_typed_error(
    sudo_fake: FakeUnsandbox, make_client: MakeClient
) -> None:
    client = make_client(sudo_fake)
    snapshot_id = await new_snapshot(sudo_fake, client)
    with pytest.raises(PermissionDeniedError):
        await client.delete_snapshot(snapshot_id, otp="000000")
    assert snapshot_id in sudo_fake.snapshots
    assert len(snapshot_deletes(sudo_fake)) == 2


async def test_the_challenge_is_answered_once_only(
    fake: FakeUnsandbox, make_client: MakeClient
) -> None:
    client = make_client(fake)
    snapshot_id = await new_snapshot(fake, client)
    fake.inject(Fault.status(428, {"challenge_id": "chal_again"}, method="DELETE", times=None))
    calls: list[str] = []

    async def answer(challenge_id: str) -> str:
        calls.append(challenge_id)
        return OTP

    with pytest.raises(SudoRequiredError) as caught:
        await client.delete_snapshot(snapshot_id, otp=answer)
    assert calls == ["chal_again"]
    assert caught.value.challenge_id == "chal_again"
    assert len(snapshot_deletes(fake)) == 2


async def test_a_failing_callback_propagates_without_a_retry(
    sudo_fake: FakeUnsandbox, make_client: MakeClient
) -> None:
    client = make_client(sudo_fake)
    snapshot_id = await new_snapshot(sudo_fake, client)

    class PromptClosed(Exception):
        pass

    async def refuse(challenge_id: str) -> str:
        raise PromptClosed  # the user gave up at the prompt

    with pytest.raises(PromptClosed):
        await client.delete_snapshot(snapshot_id, otp=refuse)
    assert len(snapshot_deletes(sudo_fake)) == 1


async def test_no_challenge_no_otp_needed(fake: FakeUnsandbox, make_client: MakeClient) -> None:
    client = make_client(fake)
    snapshot_id = await new_snapshot(fake, client)
    await client.delete_snapshot(snapshot_id, otp=OTP)
    [only] = snapshot_deletes(fake)
    assert "X-Sudo-OTP" not in only
