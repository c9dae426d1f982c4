"""Error paths every resource method shares: a backend without the resource API, an id
that does not exist (404), an id that is not an id (refused before any request).

The per-resource modules test the specific refusals (409, 428, 429, 400, 403).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import pytest

from un_async import (
    AsyncClient,
    NotFoundError,
    TransportError,
    UnsupportedOperationError,
    ValidationError,
)
from un_async.testing import FakeUnsandbox, Fault, FaultKind

Call = Callable[[AsyncClient, str], Awaitable[Any]]

MISSING = "unsb-missing-0000"

ID_CALLS: dict[str, Call] = {
    "sessions.get": lambda c, i: c.sessions.get(i),
    "sessions.delete": lambda c, i: c.sessions.delete(i),
    "sessions.freeze": lambda c, i: c.sessions.freeze(i),
    "sessions.unfreeze": lambda c, i: c.sessions.unfreeze(i),
    "sessions.boost": lambda c, i: c.sessions.boost(i, 4),
    "sessions.unboost": lambda c, i: c.sessions.unboost(i),
    "sessions.shell": lambda c, i: c.sessions.shell(i, "ls"),
    "sessions.execute": lambda c, i: c.sessions.execute(i, "ls"),
    "sessions.snapshot": lambda c, i: c.sessions.snapshot(i),
    "services.get": lambda c, i: c.services.get(i),
    "services.update": lambda c, i: c.services.update(i, show_freeze_page=False),
    "services.resize": lambda c, i: c.services.resize(i, 2),
    "services.set_unfreeze_on_demand": lambda c, i: c.services.set_unfreeze_on_demand(i, True),
    "services.set_show_freeze_page": lambda c, i: c.services.set_show_freeze_page(i, True),
    "services.delete": lambda c, i: c.services.delete(i),
    "services.freeze": lambda c, i: c.services.freeze(i),
    "services.unfreeze": lambda c, i: c.services.unfreeze(i),
    "services.lock": lambda c, i: c.services.lock(i),
    "services.unlock": lambda c, i: c.services.unlock(i),
    "services.set_domains": lambda c, i: c.services.set_domains(i, ["a.example.com"]),
    "services.add_domains": lambda c, i: c.services.add_domains(i, ["a.example.com"]),
    "services.remove_domains": lambda c, i: c.services.remove_domains(i, ["a.example.com"]),
    "services.logs": lambda c, i: c.services.logs(i),
    "services.env_status": lambda c, i: c.services.env_status(i),
    "services.set_env": lambda c, i: c.services.set_env(i, {"A": "1"}),
    "services.delete_env": lambda c, i: c.services.delete_env(i),
    "services.export_env": lambda c, i: c.services.export_env(i),
    "services.redeploy": lambda c, i: c.services.redeploy(i, bootstrap="echo hi"),
    "services.execute": lambda c, i: c.services.execute(i, "ls"),
    "services.snapshot": lambda c, i: c.services.snapshot(i),
    "snapshots.get": lambda c, i: c.snapshots.get(i),
    "snapshots.create": lambda c, i: c.snapshots.create("session", i),
    "snapshots.restore": lambda c, i: c.snapshots.restore(i),
    "snapshots.delete": lambda c, i: c.snapshots.delete(i),
    "snapshots.lock": lambda c, i: c.snapshots.lock(i),
    "snapshots.unlock": lambda c, i: c.snapshots.unlock(i),
    "snapshots.clone": lambda c, i: c.snapshots.clone(i),
    "images.publish": lambda c, i: c.images.publish("snapshot", i),
    "images.get": lambda c, i: c.images.get(i),
    "images.delete": lambda c, i: c.images.delete(i),
    "images.lock": lambda c, i: c.images.lock(i),
    "images.unlock": lambda c, i: c.images.unlock(i),
    "images.set_visibility": lambda c, i: c.images.set_visibility(i, "public"),
    "images.grant": lambda c, i: c.images.grant(i, "unsb-pk-aaaa-bbbb-cccc-dddd"),
    "images.revoke": lambda c, i: c.images.revoke(i, "unsb-pk-aaaa-bbbb-cccc-dddd"),
    "images.trusted": lambda c, i: c.images.trusted(i),
    "images.transfer": lambda c, i: c.images.transfer(i, "unsb-pk-aaaa-bbbb-cccc-dddd"),
    "images.spawn": lambda c, i: c.images.spawn(i),
    "images.clone": lambda c, i: c.images.clone(i),
}

RENAMED = {"snapshots.create": "sessions.snapshot", "sessions.execute": "sessions.shell"}
"""Methods whose operation (the name recordings and errors use) is the endpoint's."""

OTHER_CALLS: dict[str, Callable[[AsyncClient], Awaitable[Any]]] = {
    "sessions.list": lambda c: c.sessions.list(),
    "sessions.create": lambda c: c.sessions.create(),
    "services.list": lambda c: c.services.list(),
    "services.create": lambda c: c.services.create("web", [80]),
    "snapshots.list": lambda c: c.snapshots.list(),
    "images.list": lambda c: c.images.list(),
    "keys.validate": lambda c: c.keys.validate(),
    "health": lambda c: c.health(),
    "image.generate": lambda c: c.generate_image("a lighthouse"),
}


@pytest.fixture
async def local_client() -> Any:
    """A client of the ``local`` backend, which has no resource API."""
    async with AsyncClient(backend="local") as client:
        yield client


@pytest.mark.parametrize("operation", sorted(ID_CALLS))
async def test_a_backend_without_the_resource_api_refuses_id_calls(
    operation: str, local_client: AsyncClient
) -> None:
    with pytest.raises(UnsupportedOperationError) as info:
        await ID_CALLS[operation](local_client, "unsb-thing-0001")
    assert (info.value.backend, info.value.operation) == (
        "local",
        RENAMED.get(operation, operation),
    )


@pytest.mark.parametrize("operation", sorted(OTHER_CALLS))
async def test_a_backend_without_the_resource_api_refuses_the_rest(
    operation: str, local_client: AsyncClient
) -> None:
    with pytest.raises(UnsupportedOperationError) as info:
        await OTHER_CALLS[operation](local_client)
    assert (info.value.backend, info.value.operation) == ("local", operation)


@pytest.mark.parametrize("operation", sorted(ID_CALLS))
async def test_an_unknown_id_is_not_found(
    operation: str, fake: FakeUnsandbox, api: AsyncClient
) -> None:
    with pytest.raises(NotFoundError) as info:
        await ID_CALLS[operation](api, MISSING)
    error = info.value
    assert isinstance(error, aiohttp.ClientResponseError)
    assert (error.status, error.error) == (404, "not_found")
    assert error.message.endswith("not found")
    assert MISSING in fake.requests[-1].path or fake.requests[-1].json()["source_id"] == MISSING


@pytest.mark.parametrize("operation", sorted(ID_CALLS))
async def test_a_malformed_id_is_refused_before_any_request(
    operation: str, fake: FakeUnsandbox, api: AsyncClient
) -> None:
    for bad_id in ("../jobs", "a/b", "x?y=1", "", "id with spaces", 42):
        with pytest.raises(ValidationError, match=r"invalid|must be"):
            await ID_CALLS[operation](api, bad_id)
    assert fake.request_count == 0


@pytest.mark.parametrize(
    ("operation", "body"),
    [
        ("sessions.get", b"[1, 2]"),
        ("services.logs", b'"text"'),
        ("images.trusted", b"[]"),
        ("sessions.list", b'{"sessions": {"not": "a list"}}'),
        ("services.list", b'{"services": [1]}'),
    ],
)
async def test_a_reply_of_the_wrong_shape_is_a_transport_error(
    operation: str, body: bytes, fake: FakeUnsandbox, api: AsyncClient
) -> None:
    fake.inject(Fault(kind=FaultKind.STATUS, status_code=200, body=body, times=None))
    by_id = ID_CALLS.get(operation)
    call = by_id(api, "unsb-thing-0001") if by_id else OTHER_CALLS[operation](api)
    with pytest.raises(TransportError, match="malformed reply"):
        await call
