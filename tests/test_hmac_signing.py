"""HMAC-SHA256 request signing: the spec's vectors, and the bytes on the wire."""

from __future__ import annotations

import json
import time

import pytest

from support import KEYS
from un_async import AsyncClient, ClientConfig, Credentials, execute_code
from un_async.plugins.signing import HmacSigner, signature
from un_async.testing import TEST_PUBLIC_KEY, TEST_SECRET_KEY, FakeUnsandbox, RecordedRequest

SPEC_SECRET = "unsb-sk-test1-test2-test3-test4"


def verifies(request: RecordedRequest, secret_key: str = TEST_SECRET_KEY) -> bool:
    """Whether the request's X-Signature covers exactly the bytes the server received."""
    expected = signature(
        secret_key, request.headers["X-Timestamp"], request.method, request.raw_path, request.body
    )
    return request.headers["X-Signature"] == expected


# -- spec §2.2 test vectors ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "body", "expected"),
    [
        (
            "POST",
            "/execute",
            b'{"language":"python","code":"print(1)"}',
            "9691140a41fa61d2c102009a83f2c813a0a3d63ab191d44ca1e12fc6c00e24c3",
        ),
        (
            "GET",
            "/jobs/job_123",
            b"",
            "02a67f3e0b8130dca23a8c61c82a384971472ee80bd8e7bb16f227325106ea0c",
        ),
        (
            "GET",
            "/services/unsb-service-abc/logs",
            b"",
            "2a8fccb61c3c9ce1509f01134494cd231d972ae1b4fc33961c2dd384123ef71e",
        ),
        (
            "GET",
            "/services/unsb-service-abc/logs?all=true",
            b"",
            "a7269fa3029ee75574af6fc83ec74787ecd6ea24467d97559299b58cc94de58d",
        ),
    ],
)
def test_spec_vectors(method: str, path: str, body: bytes, expected: str) -> None:
    assert signature(SPEC_SECRET, 1704067200, method, path, body) == expected
    assert signature(SPEC_SECRET, "1704067200", method.lower(), path, body) == expected


def test_signature_depends_on_every_part() -> None:
    base = signature(SPEC_SECRET, 1, "GET", "/jobs", b"")
    variants = {
        signature(SPEC_SECRET + "x", 1, "GET", "/jobs", b""),
        signature(SPEC_SECRET, 2, "GET", "/jobs", b""),
        signature(SPEC_SECRET, 1, "DELETE", "/jobs", b""),
        signature(SPEC_SECRET, 1, "GET", "/jobs/", b""),
        signature(SPEC_SECRET, 1, "GET", "/jobs", b"{}"),
    }
    assert base not in variants
    assert len(variants) == 5


def test_signer_headers() -> None:
    headers = HmacSigner().sign(
        Credentials(TEST_PUBLIC_KEY, SPEC_SECRET),
        timestamp=1704067200,
        method="GET",
        path="/jobs/job_123",
        body=b"",
    )
    assert dict(headers) == {
        "Authorization": f"Bearer {TEST_PUBLIC_KEY}",
        "X-Timestamp": "1704067200",
        "X-Signature": "02a67f3e0b8130dca23a8c61c82a384971472ee80bd8e7bb16f227325106ea0c",
    }


def test_one_signer_keeps_many_key_pairs_apart() -> None:
    """The signer keeps a keyed MAC per secret: every pair, including one that reuses a
    secret with another public key, and pairs beyond the cache's size, signs correctly."""
    signer = HmacSigner()
    pairs = [Credentials(f"unsb-pk-{n}", f"unsb-sk-{n % 20}") for n in range(40)]
    pairs.append(Credentials("unsb-pk-other", "unsb-sk-3"))
    for _ in range(2):
        for pair in pairs:
            body = pair.public_key.encode()
            headers = signer.sign(pair, timestamp=7, method="post", path="/execute", body=body)
            assert headers["Authorization"] == f"Bearer {pair.public_key}"
            assert headers["X-Signature"] == signature(pair.secret_key, 7, "POST", "/execute", body)


# -- what the server received is what was signed ------------------------------------------


async def test_non_ascii_code_is_signed_as_sent(fake: FakeUnsandbox, client: AsyncClient) -> None:
    result = await client.execute_code("python", 'print("hé")')
    assert result.stdout == "hé\n"
    (request,) = fake.requests
    assert request.method == "POST"
    assert "hé".encode() in request.body
    assert request.json() == {"language": "python", "code": 'print("hé")'}
    assert verifies(request)


async def test_every_request_of_a_job_is_signed_afresh(fake: FakeUnsandbox) -> None:
    fake.mode = "job"
    fake.default_duration = 0.1  # several polls, 20 ms apart
    config = ClientConfig(base_url=fake.url, poll_schedule=(0.02,))
    async with AsyncClient(config=config, **KEYS) as client:
        await client.execute_code("python", "print('ü∂')", env={"GREETING": "grüß"})
        await client.list_jobs()
    polls = [r for r in fake.requests if r.method == "GET" and r.path.startswith("/jobs/")]
    assert polls, "the job should have been polled"
    for request in fake.requests:
        assert request.headers["Authorization"] == f"Bearer {TEST_PUBLIC_KEY}"
        assert verifies(request)
    for request in polls:
        assert request.body == b""


async def test_requests_without_body_sign_the_empty_string(
    fake: FakeUnsandbox, client: AsyncClient
) -> None:
    snapshot_id = await client.session_snapshot(fake.add_session(), name="s", hot=True)
    await client.restore_snapshot(snapshot_id)
    await client.delete_snapshot(snapshot_id)
    restore, delete = fake.requests[-2:]
    assert (restore.method, delete.method) == ("POST", "DELETE")
    assert restore.body == b""
    assert delete.body == b""
    assert verifies(restore)
    assert verifies(delete)


async def test_timestamp_is_whole_current_seconds(fake: FakeUnsandbox, client: AsyncClient) -> None:
    before = int(time.time())
    await client.list_jobs()
    after = int(time.time())
    stamp = fake.requests[0].headers["X-Timestamp"]
    assert stamp.isdigit()
    assert before <= int(stamp) <= after


async def test_module_functions_sign_with_environment_keys(fake_env: FakeUnsandbox) -> None:
    await execute_code("python", "print('signed')")
    (request,) = fake_env.requests
    assert request.headers["Authorization"] == f"Bearer {TEST_PUBLIC_KEY}"
    assert verifies(request)


async def test_the_secret_key_never_travels(fake: FakeUnsandbox, client: AsyncClient) -> None:
    job_id = await client.execute_async("python", "print(1)")
    await client.wait_for_job(job_id)
    await client.cancel_job(job_id)
    await client.get_languages()
    assert fake.requests
    for request in fake.requests:
        wire = json.dumps(dict(request.headers)).encode() + request.body + request.raw_path.encode()
        assert TEST_SECRET_KEY.encode() not in wire


async def test_a_tampered_body_fails_verification(fake: FakeUnsandbox, client: AsyncClient) -> None:
    await client.execute_code("python", "print(1)")
    (request,) = fake.requests
    tampered = RecordedRequest(
        method=request.method,
        path=request.path,
        raw_path=request.raw_path,
        query=request.query,
        headers=request.headers,
        body=request.body.replace(b"print(1)", b"print(2)"),
        peer=request.peer,
        time=request.time,
    )
    assert verifies(request)
    assert not verifies(tampered)
