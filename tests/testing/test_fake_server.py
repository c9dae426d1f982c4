"""The fake unsandbox server, exercised over real loopback HTTP with a raw aiohttp client.

The request signer below is written independently of the SDK so that the server is tested
on its own terms (spec §2.2).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import re
import ssl
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import trustme

from un_async.testing import (
    SPEC_LANGUAGES,
    TEST_PUBLIC_KEY,
    TEST_SECRET_KEY,
    DurationModel,
    FakeAccount,
    FakeUnsandbox,
    Fault,
    LatencyModel,
    emulate,
    error_mix,
)
from un_async.testing.faults import parse_latency

# --- helpers -------------------------------------------------------------------------------


def sign(secret: str, timestamp: str, method: str, path: str, body: bytes = b"") -> str:
    message = f"{timestamp}:{method}:{path}:".encode() + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


class Reply:
    def __init__(self, status: int, headers: Mapping[str, str], body: bytes) -> None:
        self.status, self.headers, self.body = status, headers, body

    def json(self) -> Any:
        return json.loads(self.body)


async def send(
    http: aiohttp.ClientSession,
    fake: FakeUnsandbox,
    method: str,
    path: str,
    payload: Any = None,
    *,
    raw: bytes | None = None,
    signed_path: str | None = None,
    signed_body: bytes | None = None,
    timestamp: int | str | None = None,
    public_key: str = TEST_PUBLIC_KEY,
    secret_key: str = TEST_SECRET_KEY,
    auth: bool = True,
    headers: Mapping[str, str] | None = None,
) -> Reply:
    body = raw if raw is not None else (b"" if payload is None else json.dumps(payload).encode())
    all_headers = {"Content-Type": "application/json", **(headers or {})}
    if auth:
        ts = str(int(time.time()) if timestamp is None else timestamp)
        to_sign = body if signed_body is None else signed_body
        all_headers |= {
            "Authorization": f"Bearer {public_key}",
            "X-Timestamp": ts,
            "X-Signature": sign(secret_key, ts, method, signed_path or path, to_sign),
        }
    async with http.request(method, fake.url + path, data=body, headers=all_headers) as resp:
        return Reply(resp.status, resp.headers, await resp.read())


@pytest.fixture(autouse=True)
def no_server_errors(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Intentional aborts must never make aiohttp or asyncio log warnings or tracebacks."""
    caplog.set_level(logging.DEBUG)
    yield
    noisy = [
        r
        for r in caplog.records
        if r.levelno >= logging.WARNING and r.name.split(".")[0] in ("aiohttp", "asyncio")
    ]
    assert noisy == []


@pytest.fixture
async def fake() -> AsyncIterator[FakeUnsandbox]:
    async with FakeUnsandbox() as server:
        yield server


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


PRINT_HI = {"language": "python", "code": 'print("hi")'}


# --- signatures (spec §2) ------------------------------------------------------------------

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


# --- public endpoints -----------------------------------------------------------------------


async def test_health_get_and_head_without_auth(
    fake: FakeUnsandbox, http: aiohttp.ClientSession
) -> None:
    assert (await send(http, fake, "GET", "/health", auth=False)).status == 200
    head = await send(http, fake, "HEAD", "/health", auth=False)
    assert (head.status, head.body) == (200, b"")


async def test_languages_with_and_without_auth(
    fake: FakeUnsandbox, http: aiohttp.ClientSession
) -> None:
    anonymous = await send(http, fake, "GET", "/languages", auth=False)
    signed = await send(http, fake, "GET", "/languages")
    assert anonymous.json() == signed.json() == {"languages": list(SPEC_LANGUAGES)}
    assert len(SPEC_LANGUAGES) == 43
    assert (await send(http, fake, "GET", "/languages", secret_key="bad")).status == 401


async def test_custom_language_list(http: aiohttp.ClientSession) -> None:
    async with FakeUnsandbox(languages=["python"]) as fake:
        reply = await send(http, fake, "POST", "/execute", {"language": "go", "code": ""})
        assert reply.json()["error"] == "unsupported_language"
        assert (await send(http, fake, "GET", "/languages")).json() == {"languages": ["python"]}


async def test_unknown_route_and_method_are_json(
    fake: FakeUnsandbox, http: aiohttp.ClientSession
) -> None:
    missing = await send(http, fake, "GET", "/nope")
    assert (missing.status, missing.json()["error"]) == (404, "not_found")
    wrong = await send(http, fake, "PUT", "/execute", PRINT_HI)
    assert (wrong.status, wrong.json()["error"]) == (405, "method_not_allowed")
    assert "POST" in wrong.headers["Allow"]


async def test_keys_validate(fake: FakeUnsandbox, http: aiohttp.ClientSession) -> None:
    for raw in (b"", b"{}"):
        reply = await send(http, fake, "POST", "/keys/validate", raw=raw)
        assert reply.json()["valid"] is True
        assert reply.json()["public_key"] == TEST_PUBLIC_KEY


# --- execution (spec §3.1, §4) -----------------------------------------------------------


async def test_sync_result_fields(fake: FakeUnsandbox, http: aiohttp.ClientSession) -> None:
    result = (await send(http, fake, "POST", "/execute", PRINT_HI)).json()
    assert result["status"] == "completed"
    assert result["stdout"] == "hi\n"
    assert result["stderr"] == ""
    assert result["exit_code"] == 0
    assert result["success"] is True
    assert result["language"] == "python"
    assert result["network_mode"] == "zerotrust"
    assert result["execution_time_ms"] == result["duration_ms"] == 0
    assert result["job_id"] in fake.jobs
    assert "error" not in result
    assert "artifacts" not in result


async def test_job_mode_then_poll(http: aiohttp.ClientSession) -> None:
    async with FakeUnsandbox(mode="job") as fake:
        reply = (await send(http, fake, "POST", "/execute", PRINT_HI)).json()
        assert reply == {"job_id": reply["job_id"], "status": "pending"}
        job = (await send(http, fake, "GET", f"/jobs/{reply['job_id']}")).json()
        assert (job["status"], job["stdout"]) == ("completed", "hi\n")
        assert isinstance(job["created_at"], int)
        assert isinstance(job["completed_at"], int)


async def test_auto_mode_goes_async_above_threshold(http: aiohttp.ClientSession) -> None:
    async with FakeUnsandbox(mode="auto", sync_threshold=0.5, queue_delay=1.0) as fake:
        fake.script("python", 'print("hi")', stdout="hi\n", duration=2.0)
        reply = (await send(http, fake, "POST", "/execute", PRINT_HI)).json()
        assert reply["status"] == "pending"
        path = f"/jobs/{reply['job_id']}"
        statuses = [(await send(http, fake, "GET", path)).json()["status"]]
        fake.advance(1.5)
        running = (await send(http, fake, "GET", path)).json()
        statuses.append(running["status"])
        fake.advance(2.0)
        statuses.append((await send(http, fake, "GET", path)).json()["status"])
        assert statuses == ["pending", "running", "completed"]
        assert "stdout" not in running
        assert fake.jobs[reply["job_id"]].polls == 3


async def test_sync_mode_waits_for_the_run(http: aiohttp.ClientSession) -> None:
    async with FakeUnsandbox(mode="sync", default_duration=0.2) as fake:
        started = time.monotonic()
        result = (await send(http, fake, "POST", "/execute", PRINT_HI)).json()
        assert time.monotonic() - started >= 0.19
        assert result["status"] == "completed"
        assert 190 <= result["execution_time_ms"] <= 260


@pytest.mark.parametrize("async_status", [200, 202])
async def test_execute_async(http: aiohttp.ClientSession, async_status: int) -> None:
    async with FakeUnsandbox(mode="sync", async_status=async_status) as fake:  # type: ignore[arg-type]
        reply = await send(http, fake, "POST", "/execute/async", PRINT_HI)
        assert reply.status == async_status
        assert reply.json()["status"] == "pending"


@pytest.mark.parametrize(
    ("payload", "error"),
    [
        ({"language": "brainfuck", "code": "+"}, "unsupported_language"),
        ({"language": "python"}, "invalid_request"),
        ({"code": "x"}, "invalid_request"),
        ({**PRINT_HI, "ttl": 0}, "invalid_request"),
        ({**PRINT_HI, "ttl": 901}, "invalid_request"),
        ({**PRINT_HI, "ttl": True}, "invalid_request"),
        ({**PRINT_HI, "vcpu": 9}, "invalid_request"),
        ({**PRINT_HI, "network_mode": "open"}, "invalid_request"),
        ({**PRINT_HI, "env": {"A": 1}}, "invalid_request"),
        ({**PRINT_HI, "input_files": [{"filename": "a", "content": "%%"}]}, "invalid_request"),
        ({**PRINT_HI, "return_artifact": "yes"}, "invalid_request"),
        ([1, 2], "invalid_request"),
    ],
)
async def test_execute_validation(
    fake: FakeUnsandbox, http: aiohttp.ClientSession, payload: Any, error: str
) -> None:
    reply = await send(http, fake, "POST", "/execute", payload)
    assert reply.status == 400
    assert reply.json()["error"] == error
    assert reply.json()["message"]


async def test_execute_rejects_invalid_json(
    fake: FakeUnsandbox, http: aiohttp.ClientSession
) -> None:
    reply = await send(http, fake, "POST", "/execute", raw=b"{not json")
    assert (reply.status, reply.json()["error"]) == (400, "invalid_json")


async def test_execute_accepts_all_option_spellings(
    fake: FakeUnsandbox, http: aiohttp.ClientSession
) -> None:
    blob = base64.b64encode(b"data").decode()
    payload = {
        **PRINT_HI,
        "env": {"A": "1"},
        "input_files": [
            {"filename": "a.txt", "content": blob},
            {"filename": "b.txt", "content_base64": blob},
        ],
        "network": "semitrusted",
        "ttl": 900,
        "vcpu": 8,
        "return_artifacts": True,
    }
    result = (await send(http, fake, "POST", "/execute", payload)).json()
    assert result["network_mode"] == "semitrusted"
    assert result["artifacts"] == []
    assert fake.jobs[result["job_id"]].request["env"] == {"A": "1"}


async def test_scripted_output_and_artifacts(
    fake: FakeUnsandbox, http: aiohttp.ClientSession
) -> None:
    fake.script(
        "python",
        "x",
        stdout="out",
        stderr="warn",
        exit_code=3,
        artifacts={"out.txt": b"\x00\x01"},
    )
    payload = {"language": "python", "code": "x", "return_artifact": True}
    result = (await send(http, fake, "POST", "/execute", payload)).json()
    assert (result["stdout"], result["stderr"], result["exit_code"]) == ("out", "warn", 3)
    assert (result["status"], result["success"]) == ("completed", False)
    assert result["artifacts"] == [{"filename": "out.txt", "content_base64": "AAE="}]


async def test_scripted_failure_and_wildcard(
    fake: FakeUnsandbox, http: aiohttp.ClientSession
) -> None:
    fake.script("go", None, status="failed", error="compile error", exit_code=None)
    result = (await send(http, fake, "POST", "/execute", {"language": "go", "code": "?"})).json()
    assert result["status"] == "failed"
    assert result["error"] == "compile error"
    assert (result["exit_code"], result["success"]) == (None, False)


async def test_run_longer_than_ttl_times_out(http: aiohttp.ClientSession) -> None:
    async with FakeUnsandbox(mode="job") as fake:
        fake.script("python", "loop", stdout="partial", duration=50)
        payload = {"language": "python", "code": "loop", "ttl": 5}
        job_id = (await send(http, fake, "POST", "/execute", payload)).json()["job_id"]
        fake.advance(6)
        job = (await send(http, fake, "GET", f"/jobs/{job_id}")).json()
        assert job["status"] == "timeout"
        assert job["exit_code"] is None
        assert "timed out" in job["error"]
        assert job["execution_time_ms"] == 5000


async def test_duration_model_drives_run_time(http: aiohttp.ClientSession) -> None:
    model = DurationModel.spec_default(scale=0.001, jitter=0.0)
    async with FakeUnsandbox(mode="sync", duration_model=model) as fake:
        result = (await send(http, fake, "POST", "/execute", {"language": "go", "code": ""})).json()
        assert result["execution_time_ms"] == 11


async def test_emulated_sleep_extends_run(http: aiohttp.ClientSession) -> None:
    async with FakeUnsandbox(mode="auto") as fake:
        payload = {"language": "python", "code": "import time\ntime.sleep(3)\nprint('x')"}
        assert (await send(http, fake, "POST", "/execute", payload)).json()["status"] == "pending"


async def test_jobs_are_private_to_their_account(http: aiohttp.ClientSession) -> None:
    other_pk, other_sk = "unsb-pk-othe-0000-0000-0002", "unsb-sk-other-other-other-other"
    accounts = [
        FakeAccount(public_key=TEST_PUBLIC_KEY, secret_key=TEST_SECRET_KEY),
        FakeAccount(public_key=other_pk, secret_key=other_sk),
    ]
    async with FakeUnsandbox(accounts=accounts, mode="job") as fake:
        job_id = (await send(http, fake, "POST", "/execute", PRINT_HI)).json()["job_id"]
        reply = await send(
            http, fake, "GET", f"/jobs/{job_id}", public_key=other_pk, secret_key=other_sk
        )
        assert reply.status == 404
        listed = await send(http, fake, "GET", "/jobs", public_key=other_pk, secret_key=other_sk)
        assert listed.json() == {"jobs": []}


async def test_list_jobs(fake: FakeUnsandbox, http: aiohttp.ClientSession) -> None:
    fake.script("python", "bad", status="failed", error="boom")
    await send(http, fake, "POST", "/execute", PRINT_HI)
    await send(http, fake, "POST", "/execute", {"language": "python", "code": "bad"})
    jobs = (await send(http, fake, "GET", "/jobs")).json()["jobs"]
    assert [j["status"] for j in jobs] == ["completed", "failed"]
    assert jobs[1]["error"] == "boom"
    assert set(jobs[0]) == {"job_id", "status", "language", "created_at", "completed_at"}


async def test_unknown_job_is_404(fake: FakeUnsandbox, http: aiohttp.ClientSession) -> None:
    for method in ("GET", "DELETE"):
        reply = await send(http, fake, method, "/jobs/nope")
        assert reply.status == 404
        assert reply.json() == {"error": "not_found", "message": "job not found"}


async def test_cancel_running_job(http: aiohttp.ClientSession) -> None:
    async with FakeUnsandbox(mode="job", default_duration=60) as fake:
        job_id = (await send(http, fake, "POST", "/execute", PRINT_HI)).json()["job_id"]
        assert fake.active_jobs() == 1
        reply = await send(http, fake, "DELETE", f"/jobs/{job_id}")
        assert reply.status == 200
        assert reply.json()["status"] == "cancelled"
        job = (await send(http, fake, "GET", f"/jobs/{job_id}")).json()
        assert (job["status"], job["exit_code"], job["success"]) == ("cancelled", None, False)
        assert fake.active_jobs() == 0


async def test_cancel_finished_job_keeps_status(
    fake: FakeUnsandbox, http: aiohttp.ClientSession
) -> None:
    job_id = (await send(http, fake, "POST", "/execute", PRINT_HI)).json()["job_id"]
    reply = await send(http, fake, "DELETE", f"/jobs/{job_id}")
    assert (reply.status, reply.json()["status"]) == (200, "completed")


async def test_cancel_with_204(http: aiohttp.ClientSession) -> None:
    async with FakeUnsandbox(mode="job", default_duration=60, cancel_status=204) as fake:
        job_id = (await send(http, fake, "POST", "/execute", PRINT_HI)).json()["job_id"]
        reply = await send(http, fake, "DELETE", f"/jobs/{job_id}")
        assert (reply.status, reply.body) == (204, b"")
        assert fake.job_status(job_id) == "cancelled"


async def test_many_concurrent_jobs_have_unique_ids(http: aiohttp.ClientSession) -> None:
    async with FakeUnsandbox(mode="job", default_duration=60) as fake:
        replies = await asyncio.gather(
            *(send(http, fake, "POST", "/execute/async", PRINT_HI) for _ in range(300))
        )
        ids = {r.json()["job_id"] for r in replies}
        assert len(ids) == 300
        assert fake.active_jobs(TEST_PUBLIC_KEY) == 300


# --- limits -----------------------------------------------------------------------------


async def test_concurrency_limit(http: aiohttp.ClientSession) -> None:
    async with FakeUnsandbox(mode="job", default_duration=60, concurrency_limit=2) as fake:
        first = (await send(http, fake, "POST", "/execute", PRINT_HI)).json()["job_id"]
        await send(http, fake, "POST", "/execute/async", PRINT_HI)
        refused = await send(http, fake, "POST", "/execute", PRINT_HI)
        assert refused.status == 429
        assert refused.json() == {
            "error": "concurrency_limit_reached",
            "message": "Concurrency limit reached",
            "active_executions": 2,
            "concurrency_limit": 2,
        }
        await send(http, fake, "DELETE", f"/jobs/{first}")
        assert (await send(http, fake, "POST", "/execute", PRINT_HI)).status == 200
        fake.advance(61)
        assert fake.active_jobs() == 0


async def test_rate_limit_with_retry_after(http: aiohttp.ClientSession) -> None:
    async with FakeUnsandbox(rate_limit=(2, 60)) as fake:
        statuses = [(await send(http, fake, "GET", "/jobs")).status for _ in range(3)]
        assert statuses == [200, 200, 429]
        reply = await send(http, fake, "GET", "/jobs")
        assert reply.json()["error"] == "rate_limit_exceeded"
        assert 1 <= int(reply.headers["Retry-After"]) <= 30
        assert (await send(http, fake, "GET", "/health", auth=False)).status == 200


async def test_rate_limit_without_retry_after(http: aiohttp.ClientSession) -> None:
    async with FakeUnsandbox(rate_limit=(1, 60), rate_limit_retry_after=False) as fake:
        await send(http, fake, "GET", "/jobs")
        reply = await send(http, fake, "GET", "/jobs")
        assert reply.status == 429
        assert "Retry-After" not in reply.headers


async def test_rate_limit_refills(http: aiohttp.ClientSession) -> None:
    async with FakeUnsandbox(rate_limit=(1, 0.1)) as fake:
        await send(http, fake, "GET", "/jobs")
        assert (await send(http, fake, "GET", "/jobs")).status == 429
        await asyncio.sleep(0.12)
        assert (await send(http, fake, "GET", "/jobs")).status == 200


# --- sessions and snapshots (spec §3.4, §3.6) -------------------------------------------


async def test_session_crud(fake: FakeUnsandbox, http: aiohttp.ClientSession) -> None:
    created = (await send(http, fake, "POST", "/sessions", {"shell": "python3"})).json()
    assert created["session_id"] == created["id"]
    assert created["id"].startswith("unsb-session-")
    assert created["container_name"].startswith("unsb-vm-")
    assert (created["status"], created["shell"]) == ("running", "python3")
    listed = (await send(http, fake, "GET", "/sessions")).json()
    assert listed["count"] == 1
    one = (await send(http, fake, "GET", f"/sessions/{created['id']}")).json()
    assert one["id"] == created["id"]
    assert (await send(http, fake, "DELETE", f"/sessions/{created['id']}")).status == 200
    assert (await send(http, fake, "GET", f"/sessions/{created['id']}")).status == 404


async def test_snapshot_per_session_shape(fake: FakeUnsandbox, http: aiohttp.ClientSession) -> None:
    sid = fake.add_session()
    reply = await send(http, fake, "POST", f"/sessions/{sid}/snapshot", {"name": "s", "hot": True})
    body = reply.json()
    assert reply.status == 200
    assert body["id"].startswith("unsb-snapshot-")
    assert "snapshot_id" not in body
    assert (body["name"], body["hot"], body["source_id"]) == ("s", True, sid)


async def test_snapshot_generic_shapes(fake: FakeUnsandbox, http: aiohttp.ClientSession) -> None:
    sid = fake.add_session()
    by_key = (
        await send(http, fake, "POST", "/snapshots", {"session_id": sid, "hot": False})
    ).json()
    assert by_key["snapshot_id"] == by_key["id"]
    typed = {"source_type": "session", "source_id": sid, "name": "t"}
    by_type = (await send(http, fake, "POST", "/snapshots", typed)).json()
    assert "snapshot_id" not in by_type
    assert by_type["id"] in fake.snapshots
    ephemeral = {"session_id": sid, "ephemeral": False}
    assert (await send(http, fake, "POST", "/snapshots", ephemeral)).json()["hot"] is True
    service = fake.add_service()
    svc = (await send(http, fake, "POST", "/snapshots", {"service_id": service})).json()
    assert svc["source_type"] == "service"
    listed = (await send(http, fake, "GET", "/snapshots")).json()
    assert listed["count"] == len(listed["snapshots"]) == 4


@pytest.mark.parametrize(
    ("path", "payload"),
    [
        ("/sessions/unsb-session-none/snapshot", {"hot": False}),
        ("/snapshots", {"session_id": "unsb-session-none", "hot": False}),
        ("/snapshots", {"source_type": "session", "source_id": "unsb-session-none"}),
        ("/snapshots", {"service_id": "unsb-service-none"}),
    ],
)
async def test_snapshot_of_missing_source_is_404(
    fake: FakeUnsandbox, http: aiohttp.ClientSession, path: str, payload: dict[str, Any]
) -> None:
    reply = await send(http, fake, "POST", path, payload)
    assert (reply.status, reply.json()["error"]) == (404, "not_found")


async def test_snapshot_free_tier_forbidden(http: aiohttp.ClientSession) -> None:
    account = FakeAccount(public_key=TEST_PUBLIC_KEY, secret_key=TEST_SECRET_KEY, tier="free")
    async with FakeUnsandbox(accounts=[account]) as fake:
        sid = fake.add_session()
        reply = await send(http, fake, "POST", f"/sessions/{sid}/snapshot", {"hot": False})
        assert reply.status == 403


async def test_snapshot_get_restore_lock_delete(
    fake: FakeUnsandbox, http: aiohttp.ClientSession
) -> None:
    sid = fake.add_session()
    snap = (await send(http, fake, "POST", f"/sessions/{sid}/snapshot", {"hot": False})).json()
    path = f"/snapshots/{snap['id']}"
    info = (await send(http, fake, "GET", path)).json()
    assert (info["type"], info["source_id"], info["locked"]) == ("session", sid, False)
    for raw in (b"", b"{}"):
        restored = (await send(http, fake, "POST", path + "/restore", raw=raw)).json()
        assert restored == {
            "id": snap["id"],
            "type": "session",
            "message": "Snapshot restored",
            "session_id": sid,
        }
    assert (await send(http, fake, "POST", path + "/lock", raw=b"{}")).json()["locked"] is True
    assert (await send(http, fake, "DELETE", path)).status == 409
    assert (await send(http, fake, "POST", path + "/unlock", raw=b"{}")).json()["locked"] is False
    deleted = await send(http, fake, "DELETE", path)
    assert deleted.json() == {"id": snap["id"], "status": "deleted", "message": "Snapshot deleted"}
    assert (await send(http, fake, "GET", path)).status == 404


async def test_restore_into_new_session_when_source_is_gone(
    fake: FakeUnsandbox, http: aiohttp.ClientSession
) -> None:
    sid = fake.add_session()
    snap = (await send(http, fake, "POST", f"/sessions/{sid}/snapshot", {})).json()
    del fake.sessions[sid]
    restored = (await send(http, fake, "POST", f"/snapshots/{snap['id']}/restore")).json()
    assert restored["session_id"] in fake.sessions


@pytest.mark.parametrize("operation", ["delete_snapshot", "unlock_snapshot", "delete_session"])
async def test_sudo_otp_flow(http: aiohttp.ClientSession, operation: str) -> None:
    async with FakeUnsandbox(sudo_otp="424242") as fake:
        sid = fake.add_session()
        snap = (await send(http, fake, "POST", f"/sessions/{sid}/snapshot", {})).json()["id"]
        method, path = {
            "delete_snapshot": ("DELETE", f"/snapshots/{snap}"),
            "unlock_snapshot": ("POST", f"/snapshots/{snap}/unlock"),
            "delete_session": ("DELETE", f"/sessions/{sid}"),
        }[operation]
        challenge = await send(http, fake, method, path)
        assert challenge.status == 428
        challenge_id = challenge.json()["challenge_id"]
        wrong = {"X-Sudo-OTP": "000000", "X-Sudo-Challenge": challenge_id}
        assert (await send(http, fake, method, path, headers=wrong)).status == 403
        right = {"X-Sudo-OTP": "424242", "X-Sudo-Challenge": challenge_id}
        assert (await send(http, fake, method, path, headers=right)).status == 200
        replay = await send(http, fake, method, path, headers=right)
        assert replay.status in (403, 404)  # challenge consumed (or resource gone)
        assert challenge_id not in fake.sudo_challenges


async def test_sudo_not_required_when_unconfigured(
    fake: FakeUnsandbox, http: aiohttp.ClientSession
) -> None:
    sid = fake.add_session()
    assert (await send(http, fake, "DELETE", f"/sessions/{sid}")).status == 200


# --- faults ---------------------------------------------------------------------------------


async def test_status_fault_times_and_scope(
    fake: FakeUnsandbox, http: aiohttp.ClientSession
) -> None:
    fault = fake.inject(Fault.status(503, times=2, method="POST", path="/execute"))
    assert (await send(http, fake, "GET", "/jobs")).status == 200
    first = await send(http, fake, "POST", "/execute", PRINT_HI)
    assert first.json() == {
        "error": "service_unavailable",
        "message": "Service temporarily unavailable",
    }
    assert (await send(http, fake, "POST", "/execute/async", PRINT_HI)).status == 503
    assert (await send(http, fake, "POST", "/execute", PRINT_HI)).status == 200
    assert (fault.fired, fault.exhausted) == (2, True)
    assert len(fake.jobs) == 1


async def test_status_fault_custom_body_and_headers(
    fake: FakeUnsandbox, http: aiohttp.ClientSession
) -> None:
    fake.inject(Fault.status(502, "<html>bad gateway</html>", {"X-Proxy": "nginx"}))
    reply = await send(http, fake, "GET", "/jobs")
    assert (reply.status, reply.body) == (502, b"<html>bad gateway</html>")
    assert reply.headers["X-Proxy"] == "nginx"
    assert reply.headers["Content-Type"].startswith("text/plain")


async def test_429_retry_after_seconds_and_http_date(
    fake: FakeUnsandbox, http: aiohttp.ClientSession
) -> None:
    when = datetime(2030, 1, 1, tzinfo=UTC)
    fake.inject(Fault.rate_limited(retry_after=2))
    fake.inject(Fault.status(429, retry_after=when))
    fake.inject(Fault.concurrency_limited(active=3, limit=3))
    seconds = await send(http, fake, "GET", "/jobs")
    assert (seconds.status, seconds.headers["Retry-After"]) == (429, "2")
    assert seconds.json()["error"] == "rate_limit_exceeded"
    dated = await send(http, fake, "GET", "/jobs")
    assert parsedate_to_datetime(dated.headers["Retry-After"]) == when
    limited = (await send(http, fake, "GET", "/jobs")).json()
    assert (limited["error"], limited["active_executions"]) == ("concurrency_limit_reached", 3)


async def test_fault_after_and_forever(fake: FakeUnsandbox, http: aiohttp.ClientSession) -> None:
    fake.inject(Fault.status(500, after=1, times=None, path="/jobs", exact=True))
    statuses = [(await send(http, fake, "GET", "/jobs")).status for _ in range(4)]
    assert statuses == [200, 500, 500, 500]
    assert (await send(http, fake, "GET", "/jobs/x")).status == 404


def test_fault_path_matching() -> None:
    prefix = Fault.status(500, path="/jobs")
    assert prefix.matches("GET", "/jobs")
    assert prefix.matches("GET", "/jobs/abc")
    assert not prefix.matches("GET", "/jobsx")
    regex = Fault.status(500, path=re.compile(r"^/jobs/[^/]+$"), method="get")
    assert regex.matches("GET", "/jobs/abc")
    assert not regex.matches("GET", "/jobs")
    assert not regex.matches("DELETE", "/jobs/abc")
    with pytest.raises(ValueError, match="start with"):
        Fault.status(500, path="jobs")
    with pytest.raises(ValueError, match="rate"):
        Fault.status(500, rate=1.5)


async def test_fault_rate_is_seeded(http: aiohttp.ClientSession) -> None:
    patterns = []
    for _ in range(2):
        async with FakeUnsandbox(seed=7) as fake:
            fault = fake.inject(Fault.status(503, rate=0.5))
            assert fault.times is None
            statuses = [
                (await send(http, fake, "GET", "/health", auth=False)).status for _ in range(60)
            ]
            patterns.append(statuses)
            assert 15 <= fault.fired <= 45
    assert patterns[0] == patterns[1]


async def test_reset_before_read_processes_nothing(
    fake: FakeUnsandbox, http: aiohttp.ClientSession
) -> None:
    fake.inject(Fault.reset_before_read(method="POST"))
    with pytest.raises((aiohttp.ServerDisconnectedError, aiohttp.ClientOSError)):
        await send(http, fake, "POST", "/execute", PRINT_HI)
    assert fake.jobs == {}
    assert fake.requests[-1].fault == "reset_before_read"
    assert fake.requests[-1].body == b""
    assert (await send(http, fake, "POST", "/execute", PRINT_HI)).status == 200


async def test_reset_after_read_processes_the_request(
    fake: FakeUnsandbox, http: aiohttp.ClientSession
) -> None:
    fake.inject(Fault.reset_after_read(path="/execute"))
    with pytest.raises((aiohttp.ServerDisconnectedError, aiohttp.ClientOSError)):
        await send(http, fake, "POST", "/execute", PRINT_HI)
    assert len(fake.jobs) == 1
    assert fake.requests[-1].json() == PRINT_HI


async def test_truncated_body(fake: FakeUnsandbox, http: aiohttp.ClientSession) -> None:
    fake.inject(Fault.truncated_body())
    with pytest.raises(aiohttp.ClientPayloadError):
        await send(http, fake, "POST", "/execute", PRINT_HI)
    assert len(fake.jobs) == 1


async def test_malformed_non_json_and_empty_204(
    fake: FakeUnsandbox, http: aiohttp.ClientSession
) -> None:
    fake.inject(Fault.malformed_json())
    fake.inject(Fault.non_json(502, "<h1>Bad Gateway</h1>"))
    fake.inject(Fault.empty_204())
    malformed = await send(http, fake, "GET", "/jobs")
    assert malformed.status == 200
    assert malformed.headers["Content-Type"].startswith("application/json")
    with pytest.raises(json.JSONDecodeError):
        malformed.json()
    html = await send(http, fake, "GET", "/jobs")
    assert (html.status, html.body) == (502, b"<h1>Bad Gateway</h1>")
    assert html.headers["Content-Type"].startswith("text/html")
    empty = await send(http, fake, "GET", "/jobs")
    assert (empty.status, empty.body) == (204, b"")
    assert (await send(http, fake, "GET", "/jobs")).status == 200


async def test_streamed_fault_sends_a_chunked_body(
    fake: FakeUnsandbox, http: aiohttp.ClientSession
) -> None:
    fake.inject(Fault.streamed({"jobs": [], "pad": "x" * 40_000}, chunk_size=1000))
    fake.inject(Fault.streamed("upstream page", 502))
    reply = await send(http, fake, "GET", "/jobs")
    assert reply.status == 200
    assert reply.headers["Transfer-Encoding"] == "chunked"
    assert "Content-Length" not in reply.headers
    assert "Date" in reply.headers
    assert reply.json() == {"jobs": [], "pad": "x" * 40_000}
    page = await send(http, fake, "GET", "/jobs")
    assert (page.status, page.body) == (502, b"upstream page")
    assert page.headers["Content-Type"].startswith("application/octet-stream")
    assert fake.response_statuses[502] == 1
    with pytest.raises(ValueError, match="chunk_size"):
        Fault.streamed("x", chunk_size=0)


async def test_streamed_fault_to_a_client_that_hangs_up_is_silent(
    fake: FakeUnsandbox, http: aiohttp.ClientSession
) -> None:
    fake.inject(Fault.streamed(b"x" * 4_000_000, chunk_size=4096))
    async with http.get(fake.url + "/health") as response:
        assert len(await response.content.read(10)) > 0
        response.close()
    await asyncio.sleep(0.05)
    assert (await send(http, fake, "GET", "/health")).status == 200


async def test_delay_fault_stacks_with_status(
    fake: FakeUnsandbox, http: aiohttp.ClientSession
) -> None:
    fake.inject(Fault.delay(0.15, path="/jobs"))
    fake.inject(Fault.status(504, path="/jobs"))
    started = time.monotonic()
    assert (await send(http, fake, "GET", "/jobs")).status == 504
    assert time.monotonic() - started >= 0.14


async def test_restart_fault_then_jobs_are_gone(http: aiohttp.ClientSession) -> None:
    async with FakeUnsandbox(mode="job", default_duration=60) as fake:
        job_id = (await send(http, fake, "POST", "/execute", PRINT_HI)).json()["job_id"]
        fake.inject(Fault.restart(errors=2, status=502, path="/jobs"))
        statuses = [(await send(http, fake, "GET", f"/jobs/{job_id}")).status for _ in range(4)]
        assert statuses == [502, 502, 404, 404]
        assert fake.jobs[job_id].lost
        new_id = (await send(http, fake, "POST", "/execute", PRINT_HI)).json()["job_id"]
        assert (await send(http, fake, "GET", f"/jobs/{new_id}")).status == 200


async def test_lose_job(fake: FakeUnsandbox, http: aiohttp.ClientSession) -> None:
    job_id = (await send(http, fake, "POST", "/execute", PRINT_HI)).json()["job_id"]
    fake.lose_job(job_id, errors=1, status=503)
    statuses = [(await send(http, fake, "GET", f"/jobs/{job_id}")).status for _ in range(3)]
    assert statuses == [503, 404, 404]
    assert (await send(http, fake, "GET", "/jobs")).json() == {"jobs": []}


async def test_not_found_race(http: aiohttp.ClientSession) -> None:
    async with FakeUnsandbox(mode="job") as fake:
        fake.inject(Fault.not_found_race(count=2))
        first = (await send(http, fake, "POST", "/execute/async", PRINT_HI)).json()["job_id"]
        second = (await send(http, fake, "POST", "/execute", PRINT_HI)).json()["job_id"]
        statuses = [(await send(http, fake, "GET", f"/jobs/{first}")).status for _ in range(3)]
        assert statuses == [404, 404, 200]
        assert (await send(http, fake, "GET", f"/jobs/{second}")).status == 200


async def test_faults_apply_before_auth(fake: FakeUnsandbox, http: aiohttp.ClientSession) -> None:
    fake.inject(Fault.status(503))
    assert (await send(http, fake, "GET", "/jobs", auth=False)).status == 503


async def test_clear_faults(fake: FakeUnsandbox, http: aiohttp.ClientSession) -> None:
    fake.inject(Fault.status(503, times=None))
    assert (await send(http, fake, "GET", "/health", auth=False)).status == 503
    fake.clear_faults()
    assert (await send(http, fake, "GET", "/health", auth=False)).status == 200


# --- timing models ----------------------------------------------------------------------


def _quantile(values: list[float], q: float) -> float:
    return sorted(values)[int(q * (len(values) - 1))]


def test_latency_model_matches_spec() -> None:
    model = LatencyModel.spec_default(seed=1)
    samples = [model.sample() for _ in range(20_000)]
    assert 0.17 <= _quantile(samples, 0.5) <= 0.21
    assert 0.40 <= _quantile(samples, 0.95) <= 0.52
    assert 0.9 <= _quantile(samples, 0.995) <= 2.0


def test_latency_model_degraded_and_scaled() -> None:
    degraded = LatencyModel.spec_default(seed=2, degraded=True)
    samples = [degraded.sample() for _ in range(10_000)]
    stalls = sum(1 for s in samples if s > 4.5) / len(samples)
    assert 0.19 <= stalls <= 0.25
    scaled = LatencyModel.spec_default(seed=1, scale=0.01)
    assert 0.0017 <= _quantile([scaled.sample() for _ in range(5000)], 0.5) <= 0.0021


def test_latency_parsing() -> None:
    assert parse_latency("none") is None
    fixed = parse_latency("fixed:0.25", scale=2)
    assert fixed is not None
    assert fixed.sample() == 0.5
    assert isinstance(parse_latency("degraded"), LatencyModel)
    with pytest.raises(ValueError, match="unknown latency"):
        parse_latency("wobbly")


def test_duration_model_per_language() -> None:
    model = DurationModel.spec_default(jitter=0.0)
    assert model.duration("python") == pytest.approx(3.96)
    assert model.duration("go") == pytest.approx(11.484)
    assert model.duration("deno") == pytest.approx(4.505)
    jittered = DurationModel.spec_default(seed=3, scale=0.5)
    assert 0.5 * 3.96 * 0.9 <= jittered.duration("python") <= 0.5 * 3.96 * 1.1


async def test_latency_applies_per_request(http: aiohttp.ClientSession) -> None:
    async with FakeUnsandbox(latency=LatencyModel.fixed(0.1)) as fake:
        started = time.monotonic()
        await send(http, fake, "GET", "/health", auth=False)
        assert time.monotonic() - started >= 0.09


# --- program emulation --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "code", "stdout", "exit_code"),
    [
        ("python", 'print("Hello World")', "Hello World\n", 0),
        ("python", "print('a')\nprint(42)\nprint(f'{x}')", "a\n42\n", 0),
        ("python", 'import sys\nprint("a")\nsys.exit(1)\nprint("b")', "a\n", 1),
        ("javascript", "console.log('Job started')", "Job started\n", 0),
        ("javascript", 'console.log("x");\nprocess.exit(2)', "x\n", 2),
        ("go", 'fmt.Println("Go")', "Go\n", 0),
        ("ruby", 'puts "r"\nprint "s"', "r\ns", 0),
        ("bash", 'echo hello world\necho "q"', "hello world\nq\n", 0),
        ("php", '<?php echo "hi\\n";', "hi\n", 0),
        ("rust", 'fn main() { println!("rs"); }', "rs\n", 0),
        ("java", 'System.out.println("J");', "J\n", 0),
        ("c", 'printf("c\\n"); puts("p");', "c\np\n", 0),
    ],
)
def test_emulation_prints(language: str, code: str, stdout: str, exit_code: int) -> None:
    result = emulate(language, code)
    assert (result.stdout, result.exit_code, result.status) == (stdout, exit_code, "completed")


@pytest.mark.parametrize(
    ("language", "code", "stderr"),
    [
        ("python", 'print("a")\nraise ValueError("boom")', "ValueError: boom\n"),
        ("javascript", 'throw new Error("bad")', "Error: bad\n"),
        ("go", 'panic("oops")', "oops\n"),
    ],
)
def test_emulation_errors(language: str, code: str, stderr: str) -> None:
    result = emulate(language, code)
    assert (result.exit_code, result.stderr) == (1, stderr)


def test_emulation_stderr_and_sleep() -> None:
    result = emulate("python", 'import time, sys\ntime.sleep(1.5)\nprint("e", file=sys.stderr)')
    assert (result.stdout, result.stderr, result.duration) == ("", "e\n", 1.5)


# --- bookkeeping ------------------------------------------------------------------------


async def test_requests_are_recorded(fake: FakeUnsandbox, http: aiohttp.ClientSession) -> None:
    await send(http, fake, "POST", "/execute?x=1", PRINT_HI, signed_path="/execute")
    record = fake.requests[-1]
    assert (record.method, record.path, record.query) == ("POST", "/execute", {"x": "1"})
    assert record.json() == PRINT_HI
    assert record.headers["Authorization"] == f"Bearer {TEST_PUBLIC_KEY}"
    assert record.peer is not None
    assert record.peer[0] == "127.0.0.1"
    assert record.fault is None
    assert fake.count_requests("POST", "/execute") == 1
    assert fake.count_requests(path="/") == 1


async def test_connection_count(fake: FakeUnsandbox) -> None:
    async with aiohttp.ClientSession() as pooled:
        for _ in range(5):
            await send(pooled, fake, "GET", "/health", auth=False)
    assert (fake.request_count, fake.connection_count) == (5, 1)
    fake.reset_stats()
    connector = aiohttp.TCPConnector(force_close=True)
    async with aiohttp.ClientSession(connector=connector) as fresh:
        for _ in range(3):
            await send(fresh, fake, "GET", "/health", auth=False)
    assert (fake.request_count, fake.connection_count, len(fake.requests)) == (3, 3, 3)
    assert len({r.peer for r in fake.requests}) == 3


async def test_stats_endpoint(fake: FakeUnsandbox, http: aiohttp.ClientSession) -> None:
    await send(http, fake, "POST", "/execute", PRINT_HI)
    fake.inject(Fault.status(503, times=None))
    stats = (await send(http, fake, "GET", "/_fake/stats", auth=False)).json()
    assert stats == {
        "requests": 1,
        "connections": 1,
        "jobs": 1,
        "active_jobs": 0,
        "statuses": {"200": 1},
    }
    await send(http, fake, "POST", "/_fake/reset", auth=False)
    assert (fake.request_count, fake.requests) == (0, [])


async def test_record_requests_off(http: aiohttp.ClientSession) -> None:
    async with FakeUnsandbox(record_requests=False) as fake:
        await send(http, fake, "GET", "/health", auth=False)
        assert (fake.requests, fake.request_count) == ([], 1)


async def test_app_runs_under_any_runner(http: aiohttp.ClientSession) -> None:
    from aiohttp import web

    fake = FakeUnsandbox()
    runner = web.AppRunner(fake.app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        port = runner.addresses[0][1]
        async with http.get(f"http://127.0.0.1:{port}/health") as resp:
            assert resp.status == 200
    finally:
        await runner.cleanup()


async def test_stop_does_not_wait_for_held_requests() -> None:
    fake = FakeUnsandbox(mode="sync", default_duration=30)
    await fake.start()
    async with aiohttp.ClientSession() as http:
        request = asyncio.create_task(send(http, fake, "POST", "/execute", PRINT_HI))
        for _ in range(500):
            if fake.jobs:
                break
            await asyncio.sleep(0.01)
        assert fake.jobs
        started = time.monotonic()
        await fake.stop()
        assert time.monotonic() - started < 3
        with pytest.raises(aiohttp.ClientError):
            await request


async def test_restart_in_place_keeps_url_and_state() -> None:
    fake = FakeUnsandbox(mode="job")
    async with fake, aiohttp.ClientSession() as http:
        url = fake.url
        job_id = (await send(http, fake, "POST", "/execute", PRINT_HI)).json()["job_id"]
    async with fake, aiohttp.ClientSession() as http:
        assert fake.url == url
        assert (await send(http, fake, "GET", f"/jobs/{job_id}")).status == 200


# --- TLS and the separate process -------------------------------------------------------


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[trustme.CA, Path, Path]:
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    folder = tmp_path_factory.mktemp("tls")
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert.private_key_pem.write_to_path(str(key_file))
    for index, pem in enumerate(cert.cert_chain_pems):
        pem.write_to_path(str(cert_file), append=index > 0)
    return ca, cert_file, key_file


def _client_tls(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context


async def test_in_process_tls(tls_files: tuple[trustme.CA, Path, Path]) -> None:
    ca, cert_file, key_file = tls_files
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert_file, key_file)
    async with FakeUnsandbox(ssl_context=server_context) as fake:
        assert fake.url.startswith("https://127.0.0.1:")
        connector = aiohttp.TCPConnector(ssl=_client_tls(ca))
        async with aiohttp.ClientSession(connector=connector) as http:
            assert (await send(http, fake, "POST", "/execute", PRINT_HI)).status == 200
            fake.inject(Fault.reset_after_read())
            with pytest.raises((aiohttp.ServerDisconnectedError, aiohttp.ClientOSError)):
                await send(http, fake, "POST", "/execute", PRINT_HI)


async def _spawn(*args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "un_async.testing",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def _url_of(process: asyncio.subprocess.Process) -> str:
    assert process.stdout is not None
    line = await asyncio.wait_for(process.stdout.readline(), timeout=20)
    return line.decode().strip()


async def _terminate(process: asyncio.subprocess.Process) -> bytes:
    process.terminate()
    _, stderr = await asyncio.wait_for(process.communicate(), timeout=10)
    assert process.returncode == 0
    return stderr


async def test_cli_prints_url_and_serves() -> None:
    process = await _spawn("--host", "127.0.0.1", "--port", "0", "--mode", "job", "--print-url")
    try:
        url = await _url_of(process)
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", url)
        async with aiohttp.ClientSession() as http:
            async with http.get(url + "/health") as resp:
                assert resp.status == 200
            body = json.dumps(PRINT_HI).encode()
            ts = str(int(time.time()))
            headers = {
                "Authorization": f"Bearer {TEST_PUBLIC_KEY}",
                "X-Timestamp": ts,
                "X-Signature": sign(TEST_SECRET_KEY, ts, "POST", "/execute", body),
            }
            async with http.post(url + "/execute", data=body, headers=headers) as resp:
                assert (await resp.json())["status"] == "pending"
            async with http.get(url + "/_fake/stats") as resp:
                assert (await resp.json())["jobs"] == 1
    finally:
        stderr = await _terminate(process)
    assert stderr == b""


async def test_cli_serves_tls(tls_files: tuple[trustme.CA, Path, Path]) -> None:
    ca, cert_file, key_file = tls_files
    process = await _spawn("--tls-cert", str(cert_file), "--tls-key", str(key_file))
    try:
        url = await _url_of(process)
        assert url.startswith("https://127.0.0.1:")
        connector = aiohttp.TCPConnector(ssl=_client_tls(ca))
        async with (
            aiohttp.ClientSession(connector=connector) as http,
            http.get(url + "/health") as resp,
        ):
            assert resp.status == 200
    finally:
        await _terminate(process)


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.1"])  # noqa: S104 - never bound
async def test_cli_refuses_non_loopback_host(host: str) -> None:
    process = await _spawn("--host", host)
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=20)
    assert process.returncode == 2
    assert stdout == b""
    assert b"--allow-remote" in stderr


@pytest.mark.parametrize("where", ["fault_delay", "sync_wait", "latency"])
async def test_client_giving_up_mid_request_is_silent(where: str) -> None:
    options: dict[str, Any] = {
        "mode": "sync",
        "default_duration": 0.3 if where == "sync_wait" else 0,
    }
    if where == "latency":
        options["latency"] = LatencyModel.fixed(0.3)
    async with FakeUnsandbox(**options) as fake:
        if where == "fault_delay":
            fake.inject(Fault.delay(0.3))
        timeout = aiohttp.ClientTimeout(total=0.05)
        async with aiohttp.ClientSession(timeout=timeout) as http:
            with pytest.raises(asyncio.TimeoutError):
                await send(http, fake, "POST", "/execute", PRINT_HI)
        await asyncio.sleep(0.4)  # let the server finish with the abandoned request
        async with aiohttp.ClientSession() as http:
            fake.latency = None
            assert (await send(http, fake, "GET", "/health", auth=False)).status == 200


async def test_error_mix_hits_each_status_at_its_rate(
    fake: FakeUnsandbox, http: aiohttp.ClientSession
) -> None:
    for fault in error_mix({429: 0.1, 500: 0.2, 503: 0.3}, path="/health"):
        fake.inject(fault)
    statuses = Counter([(await send(http, fake, "GET", "/health")).status for _ in range(2000)])
    for status, rate in ((429, 0.1), (500, 0.2), (503, 0.3), (200, 0.4)):
        assert abs(statuses[status] / 2000 - rate) < 0.04, (status, statuses)
    with pytest.raises(ValueError, match="sum"):
        error_mix({500: 0.7, 503: 0.5})
