"""Authentication by the fake server: HMAC request signatures (spec §2), the
timestamp window, the server clock and key validation.

Spoken to over real loopback HTTP with a raw aiohttp client and an independent signer
(:mod:`support.signed_http`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import aiohttp
import pytest

from support.signed_http import PRINT_HI, send, sign
from un_async.testing import TEST_PUBLIC_KEY, TEST_SECRET_KEY, FakeUnsandbox, Fault

pytestmark = pytest.mark.usefixtures("no_server_errors")


SPEC_TS = "1704067200"


SPEC_VECTORS = [  # spec §2.2, secret TEST_SECRET_KEY: (method, path, body, signature)
    ("POST", "/execute", '{"language":"python","code":"print(1)"}',
     "9691140a41fa61d2c102009a83f2c813a0a3d63ab191d44ca1e12fc6c00e24c3"),
    ("GET", "/jobs/job_123", "",
     "02a67f3e0b8130dca23a8c61c82a384971472ee80bd8e7bb16f227325106ea0c"),
    ("GET", "/services/unsb-service-abc/logs", "",
     "2a8fccb61c3c9ce1509f01134494cd231d972ae1b4fc33961c2dd384123ef71e"),
    ("GET", "/services/unsb-service-abc/logs?all=true", "",
     "a7269fa3029ee75574af6fc83ec74787ecd6ea24467d97559299b58cc94de58d"),
]  # fmt: skip


@pytest.mark.parametrize(("method", "path", "body", "expected"), SPEC_VECTORS)
def test_spec_signature_vectors(method: str, path: str, body: str, expected: str) -> None:
    assert sign(TEST_SECRET_KEY, SPEC_TS, method, path, body.encode()) == expected


def test_plain_hmac_vectors_from_reference_repo() -> None:
    assert hmac.new(b"key", b"message", hashlib.sha256).hexdigest().endswith("58ed4a")
    fox = b"The quick brown fox jumps over the lazy dog"
    assert hmac.new(b"key", fox, hashlib.sha256).hexdigest().startswith("f7bc83f4")


async def test_server_accepts_spec_vector_verbatim(http: aiohttp.ClientSession) -> None:
    body = b'{"language":"python","code":"print(1)"}'
    async with FakeUnsandbox(clock_offset=1704067200 - time.time()) as fake:
        headers = {
            "Authorization": f"Bearer {TEST_PUBLIC_KEY}",
            "X-Timestamp": SPEC_TS,
            "X-Signature": SPEC_VECTORS[0][3],
        }
        async with http.post(fake.url + "/execute", data=body, headers=headers) as resp:
            assert resp.status == 200
            assert (await resp.json())["stdout"] == "1\n"


async def test_good_signature_accepted(fake: FakeUnsandbox, http: aiohttp.ClientSession) -> None:
    reply = await send(http, fake, "POST", "/execute", PRINT_HI)
    assert reply.status == 200
    assert reply.json()["stdout"] == "hi\n"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"secret_key": "unsb-sk-wrong"}, "invalid signature"),
        ({"public_key": "unsb-pk-unknown"}, "invalid signature"),
        ({"signed_path": "/other"}, "invalid signature"),
        ({"signed_body": b'{"language": "python"}'}, "invalid signature"),
    ],
)
async def test_bad_signatures_rejected(
    fake: FakeUnsandbox, http: aiohttp.ClientSession, kwargs: dict[str, Any], message: str
) -> None:
    reply = await send(http, fake, "POST", "/execute", PRINT_HI, **kwargs)
    assert reply.status == 401
    assert reply.json() == {"error": "unauthorized", "message": message}
    assert fake.jobs == {}


async def test_missing_auth_rejected(fake: FakeUnsandbox, http: aiohttp.ClientSession) -> None:
    reply = await send(http, fake, "GET", "/jobs", auth=False)
    assert reply.status == 401
    assert reply.json()["error"] == "unauthorized"
    headers = {"Authorization": f"Bearer {TEST_PUBLIC_KEY}"}
    reply = await send(http, fake, "GET", "/jobs", auth=False, headers=headers)
    assert reply.status == 401


async def test_signature_covers_raw_body_bytes(
    fake: FakeUnsandbox, http: aiohttp.ClientSession
) -> None:
    pretty = json.dumps(PRINT_HI, indent=2).encode()
    assert (await send(http, fake, "POST", "/execute", raw=pretty)).status == 200
    compact = json.dumps(PRINT_HI, separators=(",", ":")).encode()
    reply = await send(http, fake, "POST", "/execute", raw=pretty, signed_body=compact)
    assert reply.status == 401


@pytest.mark.parametrize(("skew", "status"), [(-299, 200), (299, 200), (-301, 401), (301, 401)])
async def test_timestamp_window(
    fake: FakeUnsandbox, http: aiohttp.ClientSession, skew: int, status: int
) -> None:
    reply = await send(http, fake, "GET", "/jobs", timestamp=int(time.time()) + skew)
    assert reply.status == status
    if status == 401:
        assert reply.json()["error"] == "invalid_timestamp"
        assert "timestamp" in reply.json()["message"].lower()


async def test_non_integer_timestamp_rejected(
    fake: FakeUnsandbox, http: aiohttp.ClientSession
) -> None:
    reply = await send(http, fake, "GET", "/jobs", timestamp=f"{time.time():.3f}")
    assert reply.status == 401
    assert reply.json()["error"] == "invalid_timestamp"


async def test_query_signed_with_or_without_by_default(
    fake: FakeUnsandbox, http: aiohttp.ClientSession
) -> None:
    with_query = await send(http, fake, "GET", "/jobs?all=true")
    without = await send(http, fake, "GET", "/jobs?all=true", signed_path="/jobs")
    assert (with_query.status, without.status) == (200, 200)
    assert fake.requests[-1].query == {"all": "true"}
    assert fake.requests[-1].raw_path == "/jobs?all=true"


async def test_strict_query_signing(http: aiohttp.ClientSession) -> None:
    async with FakeUnsandbox(strict_query_signing=True) as fake:
        assert (await send(http, fake, "GET", "/jobs?all=true")).status == 200
        reply = await send(http, fake, "GET", "/jobs?all=true", signed_path="/jobs")
        assert reply.status == 401


async def test_empty_body_signature_compat_flag(http: aiohttp.ClientSession) -> None:
    """Spec §10.5: the reference client signs "" but sends "{}"."""
    for lenient, status in ((False, 401), (True, 200)):
        async with FakeUnsandbox(lenient_empty_body=lenient) as fake:
            sid = fake.add_session()
            path = f"/sessions/{sid}/snapshot"
            reply = await send(http, fake, "POST", path, raw=b"{}", signed_body=b"")
            assert reply.status == status


async def test_verification_can_be_disabled(http: aiohttp.ClientSession) -> None:
    async with FakeUnsandbox(verify_signatures=False) as fake:
        reply = await send(http, fake, "GET", "/jobs", secret_key="whatever")
        assert reply.status == 200


async def test_clock_offset_moves_window_and_date_header(http: aiohttp.ClientSession) -> None:
    async with FakeUnsandbox(clock_offset=-3600) as fake:
        reply = await send(http, fake, "GET", "/jobs")
        assert reply.status == 401
        assert reply.json()["error"] == "invalid_timestamp"
        server_date = parsedate_to_datetime(reply.headers["Date"])
        expected = datetime.now(UTC) - timedelta(hours=1)
        assert abs((server_date - expected).total_seconds()) < 5
        reply = await send(http, fake, "GET", "/jobs", timestamp=int(fake.server_time()))
        assert reply.status == 200


async def test_every_response_has_date_header(
    fake: FakeUnsandbox, http: aiohttp.ClientSession
) -> None:
    fake.inject(Fault.status(503, path="/languages"))
    replies = [
        await send(http, fake, "GET", "/health", auth=False),
        await send(http, fake, "GET", "/nope"),
        await send(http, fake, "GET", "/languages", auth=False),
    ]
    for reply in replies:
        date = parsedate_to_datetime(reply.headers["Date"])
        assert abs((date - datetime.now(UTC)).total_seconds()) < 5


async def test_keys_validate(fake: FakeUnsandbox, http: aiohttp.ClientSession) -> None:
    for raw in (b"", b"{}"):
        reply = await send(http, fake, "POST", "/keys/validate", raw=raw)
        assert reply.json()["valid"] is True
        assert reply.json()["public_key"] == TEST_PUBLIC_KEY
