"""Drop-in behaviour for code written against the reference async SDK (issue 9, point 4).

* results, job lists and resource replies are ``dict`` instances that keep attribute
  access, and hold what the server sent plus documented defaults;
* HTTP errors are also ``aiohttp.ClientResponseError`` (``status``, ``message``);
* ``detect_language`` answers ``None`` for ``None``/``""`` and ``"python"`` for ``".py"``;
* the missing-credentials message starts "No credentials found" and names the sources;
* ``cli_main()`` runs the command line when it is installed, else prints usage.
"""

from __future__ import annotations

import asyncio
import json
import sys
import types
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import aiohttp
import pytest

import un_async
from support.resource_calls import add_snapshot
from support.signed_http import send
from un_async import AsyncClient, ConflictError, CredentialsError, NotFoundError, Snapshot, sync
from un_async.resources import Image, Service, ServiceLogs, Session
from un_async.testing import FakeUnsandbox


def _holds_server_body_plus_defaults(
    reply: Any, server: Mapping[str, Any], defaults: Mapping[str, Any]
) -> None:
    """``dict(reply)`` is the server's object, plus only keys documented as defaults."""
    assert isinstance(reply, dict)
    assert json.loads(json.dumps(reply)) == dict(reply)
    as_dict = dict(reply)
    assert {k: as_dict[k] for k in server} == dict(server)
    assert set(as_dict) - set(server) <= set(defaults)
    clone = reply.copy()
    assert type(clone) is type(reply)
    assert clone == reply


async def test_results_and_job_lists_are_dicts(
    fake: FakeUnsandbox, api: AsyncClient, http: aiohttp.ClientSession
) -> None:
    job_id = await api.execute_async("python", 'print("x")')
    result = await api.wait_for_job(job_id)
    jobs = await api.list_jobs()

    server_job = (await send(http, fake, "GET", f"/jobs/{job_id}")).json()
    server_list = (await send(http, fake, "GET", "/jobs")).json()["jobs"]
    _holds_server_body_plus_defaults(result, server_job, type(result).DEFAULTS)
    assert (result.stdout, result["stdout"]) == ("x\n", "x\n")
    assert len(jobs) == len(server_list) == 1
    _holds_server_body_plus_defaults(jobs[0], server_list[0], type(jobs[0]).DEFAULTS)
    assert jobs[0].job_id == jobs[0]["id"] == job_id


async def test_resource_replies_are_dicts(
    fake: FakeUnsandbox, api: AsyncClient, http: aiohttp.ClientSession
) -> None:
    session_id = fake.add_session()
    service_id = fake.add_service(log=["ready"])
    image_id = fake.add_image()
    snapshot_id = add_snapshot(fake, session_id)
    replies = [
        (await api.sessions.get(session_id), f"/sessions/{session_id}", Session.DEFAULTS),
        (await api.services.get(service_id), f"/services/{service_id}", Service.DEFAULTS),
        (await api.services.logs(service_id), f"/services/{service_id}/logs", ServiceLogs.DEFAULTS),
        (await api.images.get(image_id), f"/images/{image_id}", Image.DEFAULTS),
        (
            await api.snapshots.get(snapshot_id),
            f"/snapshots/{snapshot_id}",
            Snapshot.DEFAULTS,
        ),
    ]
    for reply, path, defaults in replies:
        server = (await send(http, fake, "GET", path)).json()
        _holds_server_body_plus_defaults(reply, server, defaults)
    session = replies[0][0]
    assert (session.id, session.status, session["status"]) == (session_id, "running", "running")
    mutated = session.copy()
    mutated["status"] = "frozen"
    assert (mutated.status, session.status) == ("frozen", "running")
    with pytest.raises(AttributeError):
        _ = session.no_such_field


async def test_http_errors_are_aiohttp_client_response_errors(
    fake: FakeUnsandbox, api: AsyncClient
) -> None:
    fake.add_service(name="web")
    try:
        await api.services.create("web", [80])
    except aiohttp.ClientResponseError as exc:  # what reference-era code catches
        caught: aiohttp.ClientResponseError = exc
    assert isinstance(caught, ConflictError)
    assert (caught.status, caught.message) == (409, "Service name 'web' is already taken")

    with pytest.raises(aiohttp.ClientResponseError) as info:
        await api.get_job("job-that-never-was")
    assert isinstance(info.value, NotFoundError)
    assert info.value.status == 404
    assert isinstance(info.value, aiohttp.ClientError)


@pytest.mark.parametrize("detect", [un_async.detect_language, sync.detect_language])
def test_detect_language_edge_cases(detect: Any) -> None:
    assert detect(None) is None
    assert detect("") is None
    assert detect(".py") == "python"
    assert detect("main.py") == "python"
    assert detect(".bashrc") is None


async def test_missing_credentials_name_every_source(isolated_environment: Path) -> None:
    async with AsyncClient(environ={}) as client:
        with pytest.raises(CredentialsError) as info:
            await client.sessions.list()
    message = str(info.value)
    assert message.startswith("No credentials found")
    home_file = isolated_environment / ".unsandbox" / "accounts.csv"
    local_file = Path.cwd() / "accounts.csv"
    for source in ("UNSANDBOX_PUBLIC_KEY", str(home_file), str(local_file)):
        assert source in message
        assert message.index(source) > message.index("No credentials found")


def test_cli_main_without_the_command_line_prints_usage(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("un_async.cli", "un_async.cli.app"):
        monkeypatch.setitem(sys.modules, name, None)  # as if not installed
    with pytest.raises(SystemExit) as info:
        un_async.cli_main()
    assert info.value.code == 2
    assert capsys.readouterr().err.startswith("usage: un-async")


def test_cli_main_runs_the_command_line_and_exits_with_its_status(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[str] = []

    def main() -> int:
        calls.append("main")
        return 3

    stand_in = types.ModuleType("un_async.cli")
    stand_in.main = main  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "un_async.cli", stand_in)
    for entry in (un_async.cli_main, sync.cli_main):
        with pytest.raises(SystemExit) as info:
            entry()
        assert info.value.code == 3
    assert calls == ["main", "main"]


def test_cli_main_is_the_un_async_command(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("un_async.cli.app", reason="the command line is not installed")
    monkeypatch.setattr(sys, "argv", ["un-async", "--help"])
    with pytest.raises(SystemExit) as info:
        un_async.cli_main()
    assert info.value.code == 0
    assert "Usage: un-async" in capsys.readouterr().out


async def test_the_blocking_functions(fake_env: FakeUnsandbox) -> None:
    def blocking_session_round_trip() -> tuple[Any, Any, Any]:
        try:
            session = sync.create_session(None, "zerotrust", 60)
            output = sync.shell_session(session["id"], "echo blocking")
            return session, output, sync.delete_session(session["id"])
        finally:
            sync.close()

    session, output, deleted = await asyncio.to_thread(blocking_session_round_trip)

    assert isinstance(session, Session)
    assert (output["stdout"], deleted["status"]) == ("blocking\n", "terminated")
    assert fake_env.sessions == {}
