"""The ``un-async serve`` application in this process, over a backend written here: which
requests it accepts (signatures, timestamps, query strings) and whose jobs each key pair
sees. Requests are signed by the tests' own signer (:mod:`support.signed_http`)."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from support.signed_http import sign
from un_async import AsyncClient, BaseExecutor, Credentials, ExecutionRequest, ExecutionResult
from un_async.core.models import JobInfo, Record
from un_async.server.auth import RequestVerifier
from un_async.server.routes import ExecutionService

ALICE = ("unsb-pk-alice", "unsb-sk-alice")
BOB = ("unsb-pk-bob", "unsb-sk-bob")


class EchoBackend(BaseExecutor):
    """Finishes every program at once; its output is its source code."""

    name = "echo"
    requires_credentials = False
    native_wait = True
    cache_languages = False

    def __init__(self) -> None:
        self.results: dict[str, ExecutionResult] = {}

    async def submit(
        self, credentials: Credentials, request: ExecutionRequest, *, wait: bool
    ) -> ExecutionResult:
        if request.language != "python":
            from un_async import ValidationError

            raise ValidationError(f"unknown language {request.language!r}")
        job_id = f"echo-{len(self.results)}"
        self.results[job_id] = ExecutionResult(
            job_id=job_id, status="completed", stdout=request.code, exit_code=0
        )
        return ExecutionResult(job_id=job_id, status="pending")

    async def get_job(self, credentials: Credentials, job_id: str) -> ExecutionResult:
        return self.results[job_id]

    async def wait_job(self, credentials: Credentials, job_id: str) -> ExecutionResult:
        return self.results[job_id]

    async def cancel_job(self, credentials: Credentials, job_id: str) -> Record:
        return Record({"job_id": job_id, "status": "cancelled"})

    async def get_languages(self, credentials: Credentials) -> list[str]:
        return ["python"]

    async def list_jobs(self, credentials: Credentials) -> list[JobInfo]:
        return [JobInfo(job_id=job_id, status="completed") for job_id in self.results]

    async def aclose(self) -> None:
        return None


class Caller:
    """Sends signed requests to the test server as one key pair."""

    def __init__(self, http: aiohttp.ClientSession, url: str, keys: tuple[str, str]) -> None:
        self.http, self.url, self.keys = http, url, keys

    async def send(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        signed_path: str | None = None,
        skew: int = 0,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any]:
        data = b"" if body is None else json.dumps(body).encode()
        stamp = str(int(time.time()) + skew)
        signature = sign(self.keys[1], stamp, method, signed_path or path.split("?")[0], data)
        sent = {
            "Authorization": f"Bearer {self.keys[0]}",
            "X-Timestamp": stamp,
            "X-Signature": signature,
            **(headers or {}),
        }
        async with self.http.request(method, self.url + path, data=data, headers=sent) as reply:
            return reply.status, await reply.json()


@pytest.fixture
async def server() -> AsyncIterator[tuple[Caller, Caller, aiohttp.ClientSession, str]]:
    client = AsyncClient(backend=EchoBackend(), languages_cache_path=False)
    service = ExecutionService(client, RequestVerifier(dict([ALICE, BOB])), sync_wait=5)
    async with TestServer(service.build_app()) as test_server, aiohttp.ClientSession() as http:
        url = str(test_server.make_url("")).rstrip("/")
        yield Caller(http, url, ALICE), Caller(http, url, BOB), http, url
    await client.aclose()


async def test_each_account_sees_only_its_jobs(
    server: tuple[Caller, Caller, aiohttp.ClientSession, str],
) -> None:
    alice, bob, _, _ = server
    status, result = await alice.send("POST", "/execute", {"language": "python", "code": "a"})
    assert (status, result["stdout"], result["status"]) == (200, "a", "completed")
    status, started = await bob.send("POST", "/execute/async", {"language": "python", "code": "b"})
    assert (status, started["status"]) == (200, "pending")
    assert (await alice.send("GET", f"/jobs/{started['job_id']}"))[0] == 404
    assert (await alice.send("DELETE", f"/jobs/{started['job_id']}"))[0] == 404
    status, mine = await bob.send("GET", f"/jobs/{started['job_id']}")
    assert (status, mine["stdout"]) == (200, "b")
    listed = {job["job_id"] for job in (await alice.send("GET", "/jobs"))[1]["jobs"]}
    assert listed == {result["job_id"]}
    status, cancelled = await bob.send("DELETE", f"/jobs/{started['job_id']}")
    assert (status, cancelled["status"]) == (200, "cancelled")


async def test_what_authentication_accepts(
    server: tuple[Caller, Caller, aiohttp.ClientSession, str],
) -> None:
    alice, _, http, url = server
    # The signed path may include the query string or not (clients differ).
    assert (await alice.send("GET", "/jobs?limit=5"))[0] == 200
    assert (await alice.send("GET", "/jobs?limit=5", signed_path="/jobs?limit=5"))[0] == 200
    status, reply = await alice.send("GET", "/jobs", skew=301)
    assert status == 401
    assert "timestamp" in reply["message"]
    assert (await alice.send("GET", "/jobs", skew=-299))[0] == 200
    forged = await alice.send("GET", "/jobs", headers={"Authorization": "Bearer unsb-pk-eve"})
    assert forged == (401, {"error": "invalid_credential", "message": "unknown public key"})
    async with http.get(url + "/jobs") as reply:
        assert (reply.status, (await reply.json())["error"]) == (401, "unauthorized")
    async with http.get(url + "/languages") as reply:  # optional authentication
        assert (reply.status, await reply.json()) == (200, {"languages": ["python"]})
    async with http.head(url + "/health") as reply:
        assert reply.status == 200


async def test_bad_requests_are_400_and_unknown_routes_404(
    server: tuple[Caller, Caller, aiohttp.ClientSession, str],
) -> None:
    alice, _, _, _ = server
    status, reply = await alice.send("POST", "/execute", {"language": "cobol", "code": "x"})
    assert (status, reply["error"]) == (400, "bad_request")
    status, reply = await alice.send("POST", "/execute", {"language": "python"})
    assert (status, reply["error"]) == (400, "bad_request")
    bad_file = {
        "language": "python",
        "code": "x",
        "input_files": [{"filename": "a", "content": "!"}],
    }
    assert (await alice.send("POST", "/execute", bad_file))[0] == 400
    status, reply = await alice.send("GET", "/sessions")
    assert (status, reply["error"]) == (404, "not_found")


async def test_keys_validate_answers_for_the_accepted_key_pairs(
    server: tuple[Caller, Caller, aiohttp.ClientSession, str],
) -> None:
    alice, bob, http, url = server
    for caller, keys in ((alice, ALICE), (bob, BOB)):
        status, reply = await caller.send("POST", "/keys/validate")
        assert status == 200
        assert (reply["valid"], reply["status"], reply["public_key"]) == (True, "active", keys[0])
        # The fake server's keys, so that every client reads it the same way.
        assert {"tier", "expires_at", "valid_through_datetime", "rate_per_minute"} <= set(reply)
    async with http.post(url + "/keys/validate") as reply:
        assert reply.status == 401
    forged = await alice.send(
        "POST", "/keys/validate", headers={"Authorization": "Bearer unsb-pk-eve"}
    )
    assert forged[0] == 401
