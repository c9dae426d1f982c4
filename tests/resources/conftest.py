"""Fixtures for the resource API tests (helpers: :mod:`support.resource_calls`)."""

from __future__ import annotations

import pytest

from support import MakeClient
from support.resource_calls import OTHER_PUBLIC_KEY, OTHER_SECRET_KEY, OTP
from un_async import AsyncClient
from un_async.testing import FakeUnsandbox


@pytest.fixture
def api(fake: FakeUnsandbox, make_client: MakeClient) -> AsyncClient:
    """A client of the test account on ``fake`` (retries within milliseconds)."""
    return make_client(fake)


@pytest.fixture
def sudo(fake: FakeUnsandbox) -> str:
    """Make ``fake`` ask for a one-time code on destructive calls; returns the code."""
    fake.sudo_otp = OTP
    return OTP


@pytest.fixture
def other_key(fake: FakeUnsandbox) -> str:
    """A second account the fake knows; returns its public key."""
    fake.add_account(OTHER_PUBLIC_KEY, OTHER_SECRET_KEY)
    return OTHER_PUBLIC_KEY
