"""Drop-in compatibility: each of the reference async SDK's 46 public functions, called
with the reference's own positional call shape, against the fake server.

Every case checks the request sent (method, path, body) and the parsed reply. The
reference's signatures (positional parameters, then keyword-only ones) are written out
below as they appear in ``clients/python/async/src/un_async.py`` of the reference
repository; ours must start with the same positional parameters, in the same order.
"""

from __future__ import annotations

import inspect
import json
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

import un_async
from support.resource_calls import add_snapshot
from un_async import sync
from un_async.testing import SPEC_LANGUAGES, TEST_PUBLIC_KEY, TEST_SECRET_KEY, FakeUnsandbox

PK, SK = TEST_PUBLIC_KEY, TEST_SECRET_KEY

REFERENCE: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "execute_code": (("language", "code", "public_key", "secret_key"), ()),
    "execute_async": (("language", "code", "public_key", "secret_key"), ()),
    "get_job": (("job_id", "public_key", "secret_key"), ()),
    "wait_for_job": (("job_id", "public_key", "secret_key"), ()),
    "cancel_job": (("job_id", "public_key", "secret_key"), ()),
    "list_jobs": (("public_key", "secret_key"), ()),
    "get_languages": (("public_key", "secret_key"), ()),
    "detect_language": (("filename",), ()),
    "session_snapshot": (("session_id", "public_key", "secret_key", "name", "hot"), ()),
    "service_snapshot": (("service_id", "public_key", "secret_key", "name", "hot"), ()),
    "list_snapshots": (("public_key", "secret_key"), ()),
    "restore_snapshot": (("snapshot_id", "public_key", "secret_key"), ()),
    "delete_snapshot": (("snapshot_id", "public_key", "secret_key"), ()),
    "list_sessions": (("public_key", "secret_key"), ()),
    "get_session": (("session_id", "public_key", "secret_key"), ()),
    "create_session": (
        (
            "language",
            "network_mode",
            "ttl",
            "public_key",
            "secret_key",
            "shell",
            "multiplexer",
            "vcpu",
        ),
        (),
    ),
    "delete_session": (("session_id", "public_key", "secret_key"), ()),
    "freeze_session": (("session_id", "public_key", "secret_key"), ()),
    "unfreeze_session": (("session_id", "public_key", "secret_key"), ()),
    "boost_session": (("session_id", "public_key", "secret_key"), ()),
    "unboost_session": (("session_id", "public_key", "secret_key"), ()),
    "shell_session": (("session_id", "command", "public_key", "secret_key"), ()),
    "list_services": (("public_key", "secret_key"), ()),
    "create_service": (
        (
            "name",
            "ports",
            "bootstrap",
            "public_key",
            "secret_key",
            "network_mode",
            "custom_domains",
            "vcpu",
            "service_type",
            "unfreeze_on_demand",
        ),
        (),
    ),
    "get_service": (("service_id", "public_key", "secret_key"), ()),
    "update_service": (("service_id", "public_key", "secret_key", "vcpu"), ()),
    "delete_service": (("service_id", "public_key", "secret_key"), ()),
    "freeze_service": (("service_id", "public_key", "secret_key"), ()),
    "unfreeze_service": (("service_id", "public_key", "secret_key"), ()),
    "lock_service": (("service_id", "public_key", "secret_key"), ()),
    "unlock_service": (("service_id", "public_key", "secret_key"), ()),
    "set_unfreeze_on_demand": (("service_id", "enabled", "public_key", "secret_key"), ()),
    "set_show_freeze_page": (("service_id", "enabled", "public_key", "secret_key"), ()),
    "get_service_logs": (("service_id", "all_logs", "public_key", "secret_key"), ()),
    "get_service_env": (("service_id", "public_key", "secret_key"), ()),
    "set_service_env": (("service_id", "env_dict", "public_key", "secret_key"), ()),
    "delete_service_env": (("service_id", "keys", "public_key", "secret_key"), ()),
    "export_service_env": (("service_id", "public_key", "secret_key"), ()),
    "redeploy_service": (("service_id", "bootstrap", "public_key", "secret_key"), ()),
    "execute_in_service": (("service_id", "command", "timeout", "public_key", "secret_key"), ()),
    "lock_snapshot": (("snapshot_id", "public_key", "secret_key"), ()),
    "unlock_snapshot": (("snapshot_id", "public_key", "secret_key"), ()),
    "clone_snapshot": (
        ("snapshot_id", "clone_type", "name", "public_key", "secret_key", "shell", "ports"),
        (),
    ),
    "validate_keys": (("public_key", "secret_key"), ()),
    "image": (
        ("prompt",),
        ("model", "size", "quality", "n", "public_key", "secret_key"),
    ),
    "cli_main": ((), ()),
}

EMPTY = b""
"""An expected body of no bytes at all."""


@dataclass
class Ids:
    """What a case works on: resources made in the fake without requests."""

    session: str
    frozen_session: str
    service: str
    frozen_service: str
    locked_service: str
    snapshot: str
    locked_snapshot: str
    job: str = ""


@dataclass
class Case:
    """One reference call: ``call(ids)``, then the request it must have sent and a check
    of the reply (true when it is right). ``body`` is a JSON value, raw bytes, or ``None``
    (not checked); ``prepare`` runs first (its requests are not checked)."""

    call: Callable[[Ids], Awaitable[Any]]
    method: str | None
    path: str
    body: Any
    check: Callable[[Any, Ids, FakeUnsandbox], bool]
    prepare: Callable[[Ids, FakeUnsandbox], Awaitable[None]] | None = None
    query: dict[str, str] = field(default_factory=dict)


async def _running_job(ids: Ids, fake: FakeUnsandbox) -> None:
    fake.default_duration = 100.0
    ids.job = await un_async.execute_async("python", "print(1)")


async def _finished_job(ids: Ids, fake: FakeUnsandbox) -> None:
    ids.job = await un_async.execute_async("python", "print(7)")


def _dict(reply: Any, **expected: Any) -> bool:
    """True for a JSON-serialisable ``dict`` holding ``expected`` (asserts say what
    differs)."""
    assert isinstance(reply, dict), type(reply)
    json.dumps(reply)
    for key, value in expected.items():
        assert reply[key] == value, (key, reply[key])
    return True


CASES: dict[str, Case] = {
    # -- the twelve functions the seed already had --------------------------------------
    "execute_code": Case(
        lambda ids: un_async.execute_code("python", 'print("hi")', PK, SK),
        "POST",
        "/execute",
        {"language": "python", "code": 'print("hi")'},
        lambda r, ids, fake: _dict(r, stdout="hi\n", exit_code=0, status="completed"),
    ),
    "execute_async": Case(
        lambda ids: un_async.execute_async("python", "print(1)", PK, SK),
        "POST",
        "/execute/async",
        {"language": "python", "code": "print(1)"},
        lambda r, ids, fake: isinstance(r, str) and r in fake.jobs,
    ),
    "get_job": Case(
        lambda ids: un_async.get_job(ids.job, PK, SK),
        "GET",
        "/jobs/{job}",
        EMPTY,
        lambda r, ids, fake: _dict(r, job_id=ids.job),
        prepare=_finished_job,
    ),
    "wait_for_job": Case(
        lambda ids: un_async.wait_for_job(ids.job, PK, SK),
        "GET",
        "/jobs/{job}",
        EMPTY,
        lambda r, ids, fake: _dict(r, job_id=ids.job, status="completed", stdout="7\n"),
        prepare=_finished_job,
    ),
    "cancel_job": Case(
        lambda ids: un_async.cancel_job(ids.job, PK, SK),
        "DELETE",
        "/jobs/{job}",
        EMPTY,
        lambda r, ids, fake: (
            _dict(r, status="cancelled") and (fake.job_status(ids.job) == "cancelled")
        ),
        prepare=_running_job,
    ),
    "list_jobs": Case(
        lambda ids: un_async.list_jobs(PK, SK),
        "GET",
        "/jobs",
        EMPTY,
        lambda r, ids, fake: [job["id"] for job in r] == [ids.job] and isinstance(r[0], dict),
        prepare=_finished_job,
    ),
    "get_languages": Case(
        lambda ids: un_async.get_languages(PK, SK),
        "GET",
        "/languages",
        EMPTY,
        lambda r, ids, fake: r == list(SPEC_LANGUAGES),
    ),
    "detect_language": Case(
        lambda ids: _awaitable(un_async.detect_language("main.py")),
        None,
        "",
        None,
        lambda r, ids, fake: r == "python",
    ),
    "session_snapshot": Case(
        lambda ids: un_async.session_snapshot(ids.session, PK, SK, "nightly", True),
        "POST",
        "/sessions/{session}/snapshot",
        {"hot": True, "name": "nightly"},
        lambda r, ids, fake: fake.snapshots[r].name == "nightly",
    ),
    "service_snapshot": Case(
        lambda ids: un_async.service_snapshot(ids.service, PK, SK, "nightly", True),
        "POST",
        "/services/{service}/snapshot",
        {"hot": True, "name": "nightly"},
        lambda r, ids, fake: fake.snapshots[r].source_id == ids.service and fake.snapshots[r].hot,
    ),
    "list_snapshots": Case(
        lambda ids: un_async.list_snapshots(PK, SK),
        "GET",
        "/snapshots",
        EMPTY,
        lambda r, ids, fake: (
            sorted(s["id"] for s in r) == sorted([ids.snapshot, ids.locked_snapshot])
        ),
    ),
    "restore_snapshot": Case(
        lambda ids: un_async.restore_snapshot(ids.snapshot, PK, SK),
        "POST",
        "/snapshots/{snapshot}/restore",
        EMPTY,
        lambda r, ids, fake: _dict(r, id=ids.snapshot, session_id=ids.session),
    ),
    "delete_snapshot": Case(
        lambda ids: un_async.delete_snapshot(ids.snapshot, PK, SK),
        "DELETE",
        "/snapshots/{snapshot}",
        EMPTY,
        lambda r, ids, fake: _dict(r, status="deleted") and (ids.snapshot not in fake.snapshots),
    ),
    # -- sessions -----------------------------------------------------------------------
    "list_sessions": Case(
        lambda ids: un_async.list_sessions(PK, SK),
        "GET",
        "/sessions",
        EMPTY,
        lambda r, ids, fake: (
            sorted(s["id"] for s in r) == sorted([ids.session, ids.frozen_session])
            and all(isinstance(s, dict) for s in r)
        ),
    ),
    "get_session": Case(
        lambda ids: un_async.get_session(ids.session, PK, SK),
        "GET",
        "/sessions/{session}",
        EMPTY,
        lambda r, ids, fake: _dict(r, id=ids.session, status="running", multiplexer="tmux"),
    ),
    "create_session": Case(
        lambda ids: un_async.create_session(
            "python", "semitrusted", 600, PK, SK, "bash", "tmux", 2
        ),
        "POST",
        "/sessions",
        {
            "network_mode": "semitrusted",
            "ttl": 600,
            "language": "python",
            "shell": "bash",
            "multiplexer": "tmux",
            "vcpu": 2,
        },
        lambda r, ids, fake: (
            _dict(r, status="running", vcpu=2, ttl=600) and (r["id"] in fake.sessions)
        ),
    ),
    "delete_session": Case(
        lambda ids: un_async.delete_session(ids.session, PK, SK),
        "DELETE",
        "/sessions/{session}",
        EMPTY,
        lambda r, ids, fake: (
            _dict(r, id=ids.session, status="terminated") and (ids.session not in fake.sessions)
        ),
    ),
    "freeze_session": Case(
        lambda ids: un_async.freeze_session(ids.session, PK, SK),
        "POST",
        "/sessions/{session}/freeze",
        {},
        lambda r, ids, fake: _dict(r, id=ids.session, status="frozen"),
    ),
    "unfreeze_session": Case(
        lambda ids: un_async.unfreeze_session(ids.frozen_session, PK, SK),
        "POST",
        "/sessions/{frozen_session}/unfreeze",
        {},
        lambda r, ids, fake: _dict(r, id=ids.frozen_session, status="running"),
    ),
    "boost_session": Case(
        lambda ids: un_async.boost_session(ids.session, PK, SK),
        "POST",
        "/sessions/{session}/boost",
        {"vcpu": 2},
        lambda r, ids, fake: _dict(r, id=ids.session, vcpu=2, boosted=True),
    ),
    "unboost_session": Case(
        lambda ids: un_async.unboost_session(ids.session, PK, SK),
        "POST",
        "/sessions/{session}/unboost",
        {},
        lambda r, ids, fake: _dict(r, id=ids.session, vcpu=1, boosted=False),
    ),
    "shell_session": Case(
        lambda ids: un_async.shell_session(ids.session, "echo hi", PK, SK),
        "POST",
        "/sessions/{session}/shell",
        {"command": "echo hi"},
        lambda r, ids, fake: _dict(r, stdout="hi\n", exit_code=0, session_id=ids.session),
    ),
    # -- services -----------------------------------------------------------------------
    "list_services": Case(
        lambda ids: un_async.list_services(PK, SK),
        "GET",
        "/services",
        EMPTY,
        lambda r, ids, fake: (
            sorted(s["id"] for s in r)
            == sorted([ids.service, ids.frozen_service, ids.locked_service])
        ),
    ),
    "create_service": Case(
        lambda ids: un_async.create_service(
            "web",
            [80, 443],
            "https://example.com/boot.sh",
            PK,
            SK,
            "zerotrust",
            ["app.example.com"],
            2,
            "tcp",
            True,
        ),
        "POST",
        "/services",
        {
            "name": "web",
            "ports": [80, 443],
            "network_mode": "zerotrust",
            "bootstrap": "https://example.com/boot.sh",
            "custom_domains": ["app.example.com"],
            "vcpu": 2,
            "service_type": "tcp",
            "unfreeze_on_demand": True,
        },
        lambda r, ids, fake: _dict(
            r, name="web", ports=[80, 443], vcpu=2, url="https://web.on.unsandbox.com"
        ),
    ),
    "get_service": Case(
        lambda ids: un_async.get_service(ids.service, PK, SK),
        "GET",
        "/services/{service}",
        EMPTY,
        lambda r, ids, fake: _dict(r, id=ids.service, name="api", status="running"),
    ),
    "update_service": Case(
        lambda ids: un_async.update_service(ids.service, PK, SK, 3),
        "PATCH",
        "/services/{service}",
        {"vcpu": 3},
        lambda r, ids, fake: _dict(r, id=ids.service, vcpu=3),
    ),
    "delete_service": Case(
        lambda ids: un_async.delete_service(ids.service, PK, SK),
        "DELETE",
        "/services/{service}",
        EMPTY,
        lambda r, ids, fake: (
            _dict(r, id=ids.service, status="deleted") and (ids.service not in fake.services)
        ),
    ),
    "freeze_service": Case(
        lambda ids: un_async.freeze_service(ids.service, PK, SK),
        "POST",
        "/services/{service}/freeze",
        {},
        lambda r, ids, fake: _dict(r, id=ids.service, status="frozen"),
    ),
    "unfreeze_service": Case(
        lambda ids: un_async.unfreeze_service(ids.frozen_service, PK, SK),
        "POST",
        "/services/{frozen_service}/unfreeze",
        {},
        lambda r, ids, fake: _dict(r, id=ids.frozen_service, status="running"),
    ),
    "lock_service": Case(
        lambda ids: un_async.lock_service(ids.service, PK, SK),
        "POST",
        "/services/{service}/lock",
        {},
        lambda r, ids, fake: _dict(r, id=ids.service, locked=True),
    ),
    "unlock_service": Case(
        lambda ids: un_async.unlock_service(ids.locked_service, PK, SK),
        "POST",
        "/services/{locked_service}/unlock",
        {},
        lambda r, ids, fake: _dict(r, id=ids.locked_service, locked=False),
    ),
    "set_unfreeze_on_demand": Case(
        lambda ids: un_async.set_unfreeze_on_demand(ids.service, True, PK, SK),
        "PATCH",
        "/services/{service}",
        {"unfreeze_on_demand": True},
        lambda r, ids, fake: _dict(r, id=ids.service, unfreeze_on_demand=True),
    ),
    "set_show_freeze_page": Case(
        lambda ids: un_async.set_show_freeze_page(ids.service, False, PK, SK),
        "PATCH",
        "/services/{service}",
        {"show_freeze_page": False},
        lambda r, ids, fake: _dict(r, id=ids.service, show_freeze_page=False),
    ),
    "get_service_logs": Case(
        lambda ids: un_async.get_service_logs(ids.service, True, PK, SK),
        "GET",
        "/services/{service}/logs",
        EMPTY,
        lambda r, ids, fake: _dict(r, log="line 1\nline 2\n"),
        query={"all": "true"},
    ),
    "get_service_env": Case(
        lambda ids: un_async.get_service_env(ids.service, PK, SK),
        "GET",
        "/services/{service}/env",
        EMPTY,
        lambda r, ids, fake: _dict(r, has_vault=True, count=2),
    ),
    "set_service_env": Case(
        lambda ids: un_async.set_service_env(
            ids.service, {"MODE": "prod", "GREETING": "hi there"}, PK, SK
        ),
        "PUT",
        "/services/{service}/env",
        b'MODE=prod\nGREETING="hi there"\n',
        lambda r, ids, fake: (
            _dict(r, has_vault=True, count=2)
            and (fake.services[ids.service].env == {"MODE": "prod", "GREETING": "hi there"})
        ),
    ),
    "delete_service_env": Case(
        lambda ids: un_async.delete_service_env(ids.service, ["TOKEN"], PK, SK),
        "DELETE",
        "/services/{service}/env",
        {"keys": ["TOKEN"]},
        lambda r, ids, fake: (
            _dict(r, has_vault=True, count=1)
            and (fake.services[ids.service].env == {"MODE": "dev"})
        ),
    ),
    "export_service_env": Case(
        lambda ids: un_async.export_service_env(ids.service, PK, SK),
        "POST",
        "/services/{service}/env/export",
        EMPTY,
        lambda r, ids, fake: _dict(r, env="MODE=dev\nTOKEN=abc\n"),
    ),
    "redeploy_service": Case(
        lambda ids: un_async.redeploy_service(ids.service, "echo again", PK, SK),
        "POST",
        "/services/{service}/redeploy",
        {"bootstrap_content": "echo again"},
        lambda r, ids, fake: (
            _dict(r, id=ids.service, status="running")
            and (fake.services[ids.service].redeploys == 1)
        ),
    ),
    "execute_in_service": Case(
        lambda ids: un_async.execute_in_service(ids.service, "echo hi", 5000, PK, SK),
        "POST",
        "/services/{service}/execute",
        {"command": "echo hi", "timeout": 5000},
        lambda r, ids, fake: _dict(r, status="pending") and (r["job_id"] in fake.jobs),
    ),
    # -- snapshots, keys, images, command line ------------------------------------------
    "lock_snapshot": Case(
        lambda ids: un_async.lock_snapshot(ids.snapshot, PK, SK),
        "POST",
        "/snapshots/{snapshot}/lock",
        {},
        lambda r, ids, fake: _dict(r, id=ids.snapshot, locked=True),
    ),
    "unlock_snapshot": Case(
        lambda ids: un_async.unlock_snapshot(ids.locked_snapshot, PK, SK),
        "POST",
        "/snapshots/{locked_snapshot}/unlock",
        {},
        lambda r, ids, fake: _dict(r, id=ids.locked_snapshot, locked=False),
    ),
    "clone_snapshot": Case(
        lambda ids: un_async.clone_snapshot(
            ids.snapshot, "service", "cloned", PK, SK, None, [8080]
        ),
        "POST",
        "/snapshots/{snapshot}/clone",
        {"type": "service", "name": "cloned", "ports": [8080]},
        lambda r, ids, fake: (
            _dict(r, type="service") and (fake.services[r["service_id"]].ports == [8080])
        ),
    ),
    "validate_keys": Case(
        lambda ids: un_async.validate_keys(PK, SK),
        "POST",
        "/keys/validate",
        EMPTY,
        lambda r, ids, fake: _dict(r, valid=True, public_key=PK, tier="pro"),
    ),
    "image": Case(
        lambda ids: un_async.image("a red fox", size="512x512", n=2, public_key=PK, secret_key=SK),
        "POST",
        "/image",
        {"prompt": "a red fox", "size": "512x512", "quality": "standard", "n": 2},
        lambda r, ids, fake: _dict(r, size="512x512") and (len(r["images"]) == 2),
    ),
    "cli_main": Case(
        lambda ids: _awaitable(_run_cli_main()),
        None,
        "",
        None,
        lambda r, ids, fake: "usage" in r.lower(),
    ),
}


async def _awaitable(value: Any) -> Any:
    return value


def _run_cli_main() -> str:
    """``cli_main()`` as the ``un-async --help`` script would run it: it exits, having
    written a usage text (the command line's own, or the fallback's)."""
    import contextlib
    import io

    argv, sys.argv = sys.argv, ["un-async", "--help"]
    out, err = io.StringIO(), io.StringIO()
    try:
        with (
            pytest.raises(SystemExit) as exited,
            contextlib.redirect_stdout(out),
            contextlib.redirect_stderr(err),
        ):
            un_async.cli_main()
    finally:
        sys.argv = argv
    assert exited.value.code in (0, 2), exited.value.code
    return out.getvalue() + err.getvalue()


def _made(fake: FakeUnsandbox) -> Ids:
    session = fake.add_session(multiplexer="tmux")
    service = fake.add_service(
        name="api",
        bootstrap_content="echo boot",
        env={"MODE": "dev", "TOKEN": "abc"},
        log=["line 1", "line 2"],
    )
    return Ids(
        session=session,
        frozen_session=fake.add_session(multiplexer="tmux", status="frozen"),
        service=service,
        frozen_service=fake.add_service(status="frozen"),
        locked_service=fake.add_service(locked=True),
        snapshot=add_snapshot(fake, session),
        locked_snapshot=add_snapshot(fake, service, locked=True),
    )


def test_every_reference_function_has_a_case() -> None:
    assert len(REFERENCE) == 46
    assert set(CASES) == set(REFERENCE)


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_signature_keeps_the_references_parameter_order(name: str) -> None:
    positional, keyword_only = REFERENCE[name]
    for module in (un_async, sync):
        assert name in module.__all__
        parameters = inspect.signature(getattr(module, name)).parameters.values()
        ours = [p.name for p in parameters if p.kind is p.POSITIONAL_OR_KEYWORD]
        assert tuple(ours[: len(positional)]) == positional
        if name != "detect_language":  # its extra ``source`` follows the reference's one
            assert len(ours) == len(positional)
        assert set(keyword_only) <= {p.name for p in parameters if p.kind is p.KEYWORD_ONLY}


@pytest.mark.parametrize("name", sorted(CASES))
async def test_reference_call_shape_sends_the_request_and_parses_the_reply(
    name: str, fake_env: FakeUnsandbox
) -> None:
    case = CASES[name]
    fake = fake_env
    ids = _made(fake)
    if case.prepare is not None:
        await case.prepare(ids, fake)
    before = len(fake.requests)

    reply = await case.call(ids)

    sent = fake.requests[before:]
    if case.method is None:
        assert sent == []
    else:
        path = case.path.format(**vars(ids))
        matching = [r for r in sent if (r.method, r.path) == (case.method, path)]
        assert matching, [(r.method, r.path) for r in sent]
        request = matching[0]
        if isinstance(case.body, bytes):
            assert request.body == case.body
        elif case.body is not None:
            assert request.json() == case.body
        assert dict(request.query) == case.query
        assert request.headers["Authorization"] == f"Bearer {PK}"
    assert case.check(reply, ids, fake)
