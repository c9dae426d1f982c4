"""Resource calls (``api_call``) are recorded and replayed like executions."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from support.replay import read_json, replayer
from un_async import AsyncClient, NotFoundError, UnsupportedOperationError
from un_async.backends.replay import CassetteMissError
from un_async.backends.replay.matching import api_request
from un_async.testing import FakeUnsandbox

NOTES = b"notes for the session, never stored in a cassette"


async def session_sequence(client: AsyncClient) -> list[Any]:
    """Create a session, run a shell command in it, delete it, then ask for it again."""
    created = await client.sessions.create(ttl=600, input_files={"notes.txt": NOTES})
    shell = await client.sessions.shell(created.id, "echo hi")
    deleted = await client.sessions.delete(created.id)
    outcomes: list[Any] = [created, shell, deleted]
    try:
        await client.sessions.get(created.id)
    except NotFoundError as exc:
        outcomes.append((type(exc), exc.status, exc.path))
    return outcomes


async def test_a_session_sequence_recorded_against_the_fake_replays_with_no_server(
    fake: FakeUnsandbox, recorder: Callable[..., AsyncClient], cassette_file: Path
) -> None:
    fake.script("bash", "echo hi", stdout="hi\n")
    async with recorder() as client:
        recorded = await session_sequence(client)
    session_id = recorded[0].id
    assert recorded[1].stdout == "hi\n"
    await fake.stop()

    document = read_json(cassette_file)
    requests = [item["request"] for item in document["interactions"]]
    assert [(r["call"], r["method"], r["path"]) for r in requests] == [
        ("sessions.create", "POST", "/sessions"),
        ("sessions.shell", "POST", f"/sessions/{session_id}/shell"),
        ("sessions.delete", "DELETE", f"/sessions/{session_id}"),
        ("sessions.get", "GET", f"/sessions/{session_id}"),
    ]
    assert requests[1]["body"] == {"command": "echo hi"}
    (stored_file,) = requests[0]["body"]["input_files"]
    encoded = base64.b64encode(NOTES).decode()
    assert stored_file["content_sha256"] == hashlib.sha256(encoded.encode()).hexdigest()
    assert encoded not in json.dumps(document)

    async with replayer(cassette_file) as client:  # no credentials, no server
        replayed = await session_sequence(client)

    assert len(replayed) == len(recorded) == 4
    for one, other in zip(recorded[:3], replayed[:3], strict=True):
        assert type(other) is type(one)
        assert dict(other) == dict(one)
    assert replayed[1].stdout == "hi\n"
    assert replayed[3] == recorded[3] == (NotFoundError, 404, f"/sessions/{session_id}")


async def test_a_resource_call_that_differs_from_the_recording_is_a_miss(
    fake: FakeUnsandbox, recorder: Callable[..., AsyncClient], cassette_file: Path
) -> None:
    async with recorder() as client:
        created = await client.sessions.create(ttl=600)
        await client.sessions.shell(created.id, "echo hi")

    async with replayer(cassette_file) as client:
        await client.sessions.create(ttl=600)
        with pytest.raises(CassetteMissError) as caught:
            await client.sessions.shell(created.id, "echo bye")
    assert "sessions.shell POST" in str(caught.value)
    assert caught.value.differences == ("body.command",)


def test_resource_requests_are_normalised_for_matching() -> None:
    one = api_request(
        "services.env.set", "put", "/services/s/env", text="A=1\n", query={"b": "2", "a": "1"}
    )
    assert one == {
        "operation": "api_call",
        "call": "services.env.set",
        "method": "PUT",
        "path": "/services/s/env",
        "query": [["a", "1"], ["b", "2"]],
        "text_sha256": hashlib.sha256(b"A=1\n").hexdigest(),
        "text_size": 4,
    }
    assert "A=1" not in json.dumps(one)  # an environment file's values are never stored
    tupled = api_request("x", "POST", "/x", body={"ports": (80, 443)})
    assert tupled["body"] == {"ports": [80, 443]}


async def test_an_unsupported_resource_call_replays_as_the_same_error(tmp_path: Path) -> None:
    cassette = tmp_path / "unsupported.json"
    options = {"cassette": str(cassette), "record_mode": "all", "record_backend": "local"}
    async with AsyncClient(backend="replay", backend_options=options) as client:
        with pytest.raises(UnsupportedOperationError) as recorded:
            await client.sessions.create(ttl=600)

    async with replayer(cassette) as client:
        with pytest.raises(UnsupportedOperationError) as replayed:
            await client.sessions.create(ttl=600)
    assert (replayed.value.backend, replayed.value.operation) == ("local", "sessions.create")
    assert str(replayed.value) == str(recorded.value)
