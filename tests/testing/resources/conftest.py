"""Fixtures for the fake server's resource endpoints, spoken to in raw signed HTTP.

The ``fake`` here requires sudo (``sudo_otp``), so every destructive call goes through
the 428 flow of spec §2.5; ``confirm`` answers it. ``call`` signs as the test account,
``call_other`` as a second account the fake also knows.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest

from support.signed_http import Reply, send
from un_async.testing import FakeUnsandbox

OTP = "135790"
OTHER_PUBLIC_KEY = "unsb-pk-test-0000-0000-0002"
OTHER_SECRET_KEY = "unsb-sk-other-other-other-other"

Call = Callable[..., Awaitable[Reply]]


@pytest.fixture
async def fake() -> AsyncIterator[FakeUnsandbox]:
    """A fake server that asks for the one-time code ``OTP`` on destructive calls and
    knows a second account."""
    async with FakeUnsandbox(sudo_otp=OTP) as server:
        server.add_account(OTHER_PUBLIC_KEY, OTHER_SECRET_KEY)
        yield server


@pytest.fixture
def call(http: aiohttp.ClientSession, fake: FakeUnsandbox) -> Call:
    """``await call(method, path, payload=None, **send_options)`` as the test account."""
    return functools.partial(send, http, fake)


@pytest.fixture
def call_other(http: aiohttp.ClientSession, fake: FakeUnsandbox) -> Call:
    """Like ``call``, as the second account."""
    return functools.partial(
        send, http, fake, public_key=OTHER_PUBLIC_KEY, secret_key=OTHER_SECRET_KEY
    )


@pytest.fixture
def other_key() -> str:
    """The second account's public key."""
    return OTHER_PUBLIC_KEY


@pytest.fixture
def confirm(call: Call) -> Call:
    """``await confirm(method, path, payload=None, caller=call)``: send, expect the 428
    challenge, then resend with the right code; returns the final reply."""

    async def run(method: str, path: str, payload: Any = None, *, caller: Call = call) -> Reply:
        challenge = await caller(method, path, payload)
        assert challenge.status == 428, challenge.body
        headers = {"X-Sudo-OTP": OTP, "X-Sudo-Challenge": challenge.json()["challenge_id"]}
        return await caller(method, path, payload, headers=headers)

    return run
