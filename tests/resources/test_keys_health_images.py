"""``client.keys.validate()``, ``client.health()`` and ``client.generate_image()``."""

from __future__ import annotations

import pytest

from support import fast_config
from un_async import (
    AsyncClient,
    AuthenticationError,
    BadRequestError,
    ServerError,
    ValidationError,
)
from un_async.resources import GeneratedImages, Health, KeyValidation
from un_async.testing import TEST_PUBLIC_KEY, FakeUnsandbox, Fault, FaultKind
from un_async.testing.image_generation import placeholder_png


async def test_validate_an_active_key(fake: FakeUnsandbox, api: AsyncClient) -> None:
    reply = await api.keys.validate()

    request = fake.requests[-1]
    assert (request.method, request.path, request.body) == ("POST", "/keys/validate", b"")
    assert isinstance(reply, KeyValidation)
    assert (reply.valid, reply.tier, reply.reason) == (True, "pro", None)
    assert reply.expires_at == reply["valid_through_datetime"]
    assert TEST_PUBLIC_KEY not in repr(reply)


async def test_validate_an_expired_key(fake: FakeUnsandbox, api: AsyncClient) -> None:
    fake.accounts[TEST_PUBLIC_KEY].status = "expired"
    reply = await api.keys.validate()
    assert (reply.valid, reply.reason) == (False, "expired")
    assert reply["renew_url"].endswith(TEST_PUBLIC_KEY)


async def test_validate_an_unknown_key(fake: FakeUnsandbox) -> None:
    async with AsyncClient(
        config=fast_config(fake), public_key="unsb-pk-nope", secret_key="unsb-sk-nope"
    ) as client:
        with pytest.raises(AuthenticationError) as info:
            await client.keys.validate()
    assert info.value.status == 401


async def test_health_needs_no_credentials(fake: FakeUnsandbox) -> None:
    async with AsyncClient(config=fast_config(fake), environ={}) as client:
        health = await client.health()
    assert isinstance(health, Health)
    assert (health.status, fake.requests[-1].path) == ("ok", "/health")


async def test_health_reports_a_failing_service(fake: FakeUnsandbox, api: AsyncClient) -> None:
    fake.inject(Fault(kind=FaultKind.STATUS, status_code=503, path="/health", times=None))
    with pytest.raises(ServerError) as info:
        await api.health()
    assert info.value.status == 503


async def test_generate_image(fake: FakeUnsandbox, api: AsyncClient) -> None:
    reply = await api.generate_image("a red fox", size="512x512", quality="hd", n=2, model="m1")

    assert fake.requests[-1].json() == {
        "prompt": "a red fox",
        "size": "512x512",
        "quality": "hd",
        "n": 2,
        "model": "m1",
    }
    assert isinstance(reply, GeneratedImages)
    assert reply.decoded() == [placeholder_png()] * 2
    assert repr(reply) == "GeneratedImages(<2 images>)"


async def test_generate_image_errors(fake: FakeUnsandbox, api: AsyncClient) -> None:
    for bad in ({"prompt": " "}, {"prompt": "x", "n": 0}, {"prompt": "x", "quality": "ultra"}):
        with pytest.raises(ValidationError):
            await api.generate_image(**bad)  # type: ignore[arg-type]
    assert fake.request_count == 0
    with pytest.raises(BadRequestError, match="size must be one of"):
        await api.generate_image("x", size="3x3")
