"""HTTP-level record/replay under the unsandbox backend, with signature re-verification."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from support import CREDENTIALS, fast_config
from support.replay import everything, job_progress, read_json, same
from un_async import AsyncClient, ConfigurationError, JobStatus
from un_async.backends.replay import (
    CassetteMissError,
    CassetteTransport,
    SignatureMismatchError,
)
from un_async.backends.unsandbox import AiohttpTransport, HttpRequest, UnsandboxBackend
from un_async.core.credentials import Credentials
from un_async.core.hookspecs import hookimpl
from un_async.core.plugin_host import PluginHost, default_host
from un_async.plugins.signing import HmacSigner
from un_async.testing import TEST_PUBLIC_KEY, TEST_SECRET_KEY, FakeUnsandbox


def http_client(
    transport: CassetteTransport,
    *,
    host: PluginHost | None = None,
    keys: Credentials = CREDENTIALS,
    **config: Any,
) -> AsyncClient:
    settings = fast_config(shared_polling=False, **config)
    backend = UnsandboxBackend(settings, host or default_host(), transport=transport)
    return AsyncClient(
        config=settings, backend=backend, public_key=keys.public_key, secret_key=keys.secret_key
    )


@pytest.fixture
def http_file(tmp_path: Path) -> Path:
    return tmp_path / "cassettes" / "exchanges.http.json"


@pytest.fixture
def http_recorder(fake: FakeUnsandbox, http_file: Path) -> Callable[[], AsyncClient]:
    def make() -> AsyncClient:
        transport = CassetteTransport(http_file, mode="all", inner=AiohttpTransport(fake.url))
        return http_client(transport, base_url=fake.url)

    return make


def replaying(path: Path, **options: Any) -> CassetteTransport:
    return CassetteTransport(path, credentials=CREDENTIALS, **options)


async def test_http_replay_gives_the_recorded_results(
    fake: FakeUnsandbox, http_recorder: Callable[[], AsyncClient], http_file: Path
) -> None:
    session_id = fake.add_session()
    async with http_recorder() as client:
        recorded = await everything(client, session_id)
    requests_seen = fake.request_count

    async with http_client(replaying(http_file)) as client:
        replayed = await everything(client, session_id)

    assert fake.request_count == requests_seen
    assert len(recorded) == len(replayed) == 15
    for index, (one, other) in enumerate(zip(recorded, replayed, strict=True)):
        assert same(one, other), f"outcome #{index} differs"


async def test_exchanges_are_stored_normalised_and_readable(
    http_recorder: Callable[[], AsyncClient], http_file: Path
) -> None:
    async with http_recorder() as client:
        await client.execute_code("python", 'print("stored")', ttl=5)
    (exchange,) = read_json(http_file)["interactions"]
    assert exchange["request"] == {
        "method": "POST",
        "path": "/execute",
        "query": [],
        "headers": {},
        "body": {"json": {"language": "python", "code": 'print("stored")', "ttl": 5}},
    }
    assert exchange["response"]["status"] == 200
    assert exchange["response"]["headers"] == {"Content-Type": "application/json"}
    assert exchange["response"]["body"]["json"]["stdout"] == "stored\n"


async def test_polls_of_one_job_replay_in_recorded_order(
    fake: FakeUnsandbox, http_recorder: Callable[[], AsyncClient], http_file: Path
) -> None:
    async with http_recorder() as client:
        job_id, seen = await job_progress(fake, client)
    assert seen == [JobStatus.PENDING, JobStatus.RUNNING, JobStatus.COMPLETED]

    async with http_client(replaying(http_file)) as client:
        await client.execute_async("python", "print(1)")
        assert [(await client.get_job(job_id)).status for _ in range(3)] == seen
        with pytest.raises(CassetteMissError, match=f"GET /jobs/{job_id}, and all were"):
            await client.get_job(job_id)


class BodyTamperingSigner(HmacSigner):
    """Signs one byte more than is sent: the exact-bytes rule broken."""

    def sign(
        self, credentials: Credentials, *, timestamp: int, method: str, path: str, body: bytes
    ) -> Mapping[str, str]:
        return super().sign(
            credentials, timestamp=timestamp, method=method, path=path, body=body + b" "
        )


class TamperingPlugin:
    @hookimpl
    def get_signer(self, backend: str) -> HmacSigner:
        return BodyTamperingSigner()


@pytest.fixture
async def one_execution(http_recorder: Callable[[], AsyncClient], http_file: Path) -> Path:
    async with http_recorder() as client:
        await client.execute_code("python", 'print("signed")')
    return http_file


async def test_replay_verifies_each_signature_over_the_exact_bytes(one_execution: Path) -> None:
    host = PluginHost(load_entry_points=False, plugins=[TamperingPlugin()])
    async with http_client(replaying(one_execution), host=host) as client:
        with pytest.raises(SignatureMismatchError, match="<48 body bytes>") as caught:
            await client.execute_code("python", 'print("signed")')
    assert caught.value.reason == "signature"


@pytest.mark.parametrize(
    ("keys", "reason"),
    [
        (Credentials(TEST_PUBLIC_KEY, "unsb-sk-wrong-wrong-wrong-wrong"), "signature"),
        (Credentials("unsb-pk-someone-else", TEST_SECRET_KEY), "authorization"),
    ],
)
async def test_replay_rejects_requests_not_signed_with_the_replay_keys(
    one_execution: Path, keys: Credentials, reason: str
) -> None:
    async with http_client(replaying(one_execution), keys=keys) as client:
        with pytest.raises(SignatureMismatchError) as caught:
            await client.execute_code("python", 'print("signed")')
    assert caught.value.reason == reason
    assert keys.secret_key not in str(caught.value)


async def test_a_malformed_timestamp_is_rejected(one_execution: Path) -> None:
    transport = replaying(one_execution)
    request = HttpRequest(
        method="POST",
        path="/execute",
        body=b'{"language":"python","code":"print(\\"signed\\")"}',
        headers={"Authorization": f"Bearer {TEST_PUBLIC_KEY}", "X-Timestamp": "soon"},
    )
    with pytest.raises(SignatureMismatchError) as caught:
        await transport.send(request)
    assert caught.value.reason == "timestamp"


def test_replay_needs_credentials_and_recording_needs_a_transport(one_execution: Path) -> None:
    with pytest.raises(ConfigurationError, match="replay credentials"):
        CassetteTransport(one_execution)
    with pytest.raises(ConfigurationError, match="inner transport"):
        CassetteTransport(one_execution.with_name("new.json"), mode="once")
