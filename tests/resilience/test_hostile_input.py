"""Hostile input: ids in URL paths, oversized replies, and arguments rejected before any
request is sent."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from support import MakeClient, fast_config
from un_async import AsyncClient
from un_async.core.errors import (
    BadRequestError,
    JobTimeoutError,
    TransportError,
    UnsandboxError,
    ValidationError,
)
from un_async.testing import TEST_PUBLIC_KEY, TEST_SECRET_KEY, FakeUnsandbox, Fault

HOSTILE_IDS = [
    "", ".", "..", "../keys/validate", "a/../../b", "a/b", "/", "?", "x?all=true", "#frag",
    "id#x", " ", "a b", "a\tb", "a\nb", "a\r\nX-Injected: 1", "\x00", "\x7f", "%2e%2e",
    "%2F", "a%20b", "\\..\\", "é", "\u202e", "\ud800", "x" * 201, "..;/", "a;b", "a&b",
    "a=b", "~user", "@", "*",
]  # fmt: skip
SAFE_ID = st.from_regex(r"[A-Za-z0-9_.:-]{1,40}", fullmatch=True)
ANY_ID = st.one_of(st.text(), st.sampled_from(HOSTILE_IDS), SAFE_ID)

Probe = Callable[[AsyncClient, str], Awaitable[object]]
PROBES: dict[str, tuple[str, Probe]] = {
    "get_job": ("/jobs/{}", lambda c, i: c.get_job(i)),
    "cancel_job": ("/jobs/{}", lambda c, i: c.cancel_job(i)),
    "delete_snapshot": ("/snapshots/{}", lambda c, i: c.delete_snapshot(i)),
    "restore_snapshot": ("/snapshots/{}/restore", lambda c, i: c.restore_snapshot(i)),
    "session_snapshot": ("/sessions/{}/snapshot", lambda c, i: c.session_snapshot(i)),
}


@pytest.fixture
def loop_with_fake() -> Iterator[tuple[asyncio.AbstractEventLoop, FakeUnsandbox, AsyncClient]]:
    """A private loop running one fake server and client for a whole hypothesis run."""
    loop = asyncio.new_event_loop()
    fake = FakeUnsandbox(record_requests=True)
    loop.run_until_complete(fake.start())
    client = AsyncClient(
        config=fast_config(fake), public_key=TEST_PUBLIC_KEY, secret_key=TEST_SECRET_KEY
    )
    try:
        yield loop, fake, client
    finally:
        loop.run_until_complete(client.aclose())
        loop.run_until_complete(fake.stop())
        loop.close()


async def probe(fake: FakeUnsandbox, client: AsyncClient, name: str, value: str) -> None:
    template, call = PROBES[name]
    before = len(fake.requests)
    try:
        await call(client, value)
    except ValidationError:
        assert len(fake.requests) == before, f"{name}({value!r}) sent a request"
        return
    except UnsandboxError:
        pass  # e.g. 404 for an unknown id: fine, as long as the path was the intended one
    sent = fake.requests[before:]
    assert sent, f"{name}({value!r}) neither refused nor sent"
    assert {r.raw_path for r in sent} == {template.format(value)}


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(value=ANY_ID, name=st.sampled_from(sorted(PROBES)))
def test_ids_in_paths_are_refused_or_reach_exactly_the_intended_path(
    loop_with_fake: tuple[asyncio.AbstractEventLoop, FakeUnsandbox, AsyncClient],
    value: str,
    name: str,
) -> None:
    loop, fake, client = loop_with_fake
    loop.run_until_complete(probe(fake, client, name, value))


@pytest.mark.parametrize("value", HOSTILE_IDS)
async def test_wait_for_job_refuses_hostile_ids_before_any_request(
    fake: FakeUnsandbox, make_client: MakeClient, value: str
) -> None:
    with pytest.raises(ValidationError):
        await make_client(fake).wait_for_job(value, timeout=1)
    assert fake.requests == []


async def test_safe_ids_are_sent_verbatim(fake: FakeUnsandbox, make_client: MakeClient) -> None:
    client = make_client(fake)
    with pytest.raises(JobTimeoutError):
        await client.wait_for_job("job-1.2:3_x", timeout=0.3)
    assert {r.raw_path for r in fake.requests} == {"/jobs/job-1.2:3_x"}


async def test_a_hostile_job_id_from_the_server_is_never_followed(
    fake: FakeUnsandbox, make_client: MakeClient
) -> None:
    fake.inject(
        Fault.status(200, {"job_id": "../keys/validate", "status": "pending"}, path="/execute")
    )
    with pytest.raises(ValidationError):
        await make_client(fake).execute_code("python", "print(1)")
    assert [r.path for r in fake.requests] == ["/execute"]


# -- oversized replies ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "fault",
    [
        lambda body: Fault.status(200, body, path="/jobs", times=None),
        lambda body: Fault.streamed(body, path="/jobs", times=None),
        lambda body: Fault.streamed(body, 502, chunk_size=1000, path="/jobs", times=None),
        lambda body: Fault.status(500, body, path="/jobs", times=None),
    ],
    ids=["content-length", "chunked", "chunked-error-page", "error-page"],
)
async def test_oversized_replies_are_cut_off(
    fake: FakeUnsandbox, make_client: MakeClient, fault: Callable[[Any], Fault]
) -> None:
    fake.inject(fault({"jobs": [], "padding": "x" * 50_000}))
    with pytest.raises(TransportError, match="4096-byte limit"):
        await make_client(fake, max_response_bytes=4096).list_jobs()


async def test_replies_within_the_limit_pass(fake: FakeUnsandbox, make_client: MakeClient) -> None:
    fake.inject(Fault.streamed({"jobs": [], "padding": "x" * 3000}, path="/jobs"))
    assert await make_client(fake, max_response_bytes=4096).list_jobs() == []


# -- arguments refused before any request ----------------------------------------------------


async def execute(client: AsyncClient, **kwargs: Any) -> object:
    args = {"language": "python", "code": "print(1)", **kwargs}
    return await client.execute_code(args.pop("language"), args.pop("code"), **args)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"code": ""},
        {"code": "   \n\t"},
        {"code": "print('\ud800')"},
        {"language": ""},
        {"language": "Python"},
        {"language": "python\n"},
        {"language": "../execute"},
        {"language": "py thon"},
        {"env": {"": "x"}},
        {"env": {"1ABC": "x"}},
        {"env": {"A-B": "x"}},
        {"env": {"A B": "x"}},
        {"env": {"A=B": "x"}},
        {"env": {"PATH\n": "x"}},
        {"env": {"NAME": "a\x00b"}},
        {"env": {"NAME": "\udcff"}},
        {"env": {"NAME": 5}},
        {"input_files": {"\ud800.txt": b"x"}},
        {"input_files": {"data.txt": "caf\udce9"}},
        {"input_files": {"": b"x"}},
        {"input_files": {"..": b"x"}},
        {"input_files": {"a\x00b": b"x"}},
        {"input_files": {"n.bin": 5}},
        {"input_files": ["just-a-name"]},
        {"input_files": [("a", b"1"), ("a", b"2")]},
        {"ttl": 0},
        {"vcpu": 99},
        {"network_mode": "host"},
    ],
)
async def test_bad_arguments_are_refused_before_any_request(
    fake: FakeUnsandbox, make_client: MakeClient, kwargs: dict[str, Any]
) -> None:
    client = make_client(fake)
    with pytest.raises(ValidationError):
        await execute(client, **kwargs)
    args = {"language": "python", "code": "print(1)", **kwargs}
    with pytest.raises(ValidationError):
        await client.execute_async(args.pop("language"), args.pop("code"), **args)
    assert fake.requests == []


async def test_binary_input_files_are_fine(fake: FakeUnsandbox, make_client: MakeClient) -> None:
    await make_client(fake).execute_code(
        "python", "print(1)", input_files={"blob.bin": b"\xff\xfe\x00\x80"}
    )
    [request] = fake.requests
    assert request.json()["input_files"] == [{"filename": "blob.bin", "content": "//4AgA=="}]


async def test_unknown_language_is_refused_once_the_list_is_known(
    fake: FakeUnsandbox, make_client: MakeClient
) -> None:
    client = make_client(fake)
    await client.get_languages()
    with pytest.raises(ValidationError, match="did you mean 'python'"):
        await client.execute_code("pyhton", "print(1)")
    with pytest.raises(ValidationError, match="unknown language 'klingon'"):
        await client.execute_async("klingon", "print(1)")
    assert fake.count_requests("POST") == 0
    assert (await client.execute_code("python", "print(1)")).exit_code == 0


async def test_unknown_language_is_refused_from_a_fresh_languages_cache(
    fake: FakeUnsandbox, make_client: MakeClient, tmp_path: Path
) -> None:
    cache = tmp_path / "languages.json"
    cache.write_text(json.dumps({"languages": ["python", "ruby"], "timestamp": time.time()}))
    client = make_client(fake, languages_cache_path=cache)
    with pytest.raises(ValidationError, match="did you mean 'ruby'"):
        await client.execute_code("rubby", "puts 1")
    assert fake.requests == []


async def test_without_a_known_list_the_server_decides(
    fake: FakeUnsandbox, make_client: MakeClient
) -> None:
    with pytest.raises(BadRequestError, match="Unsupported language"):
        await make_client(fake).execute_code("klingon", "print(1)")
    assert fake.count_requests("POST", "/execute") == 1
