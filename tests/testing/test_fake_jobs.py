"""Jobs: listing, lookup, privacy between accounts and cancellation.

Spoken to over real loopback HTTP with a raw aiohttp client and an independent signer
(:mod:`support.signed_http`).
"""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from support.signed_http import PRINT_HI, send
from un_async.testing import TEST_PUBLIC_KEY, TEST_SECRET_KEY, FakeAccount, FakeUnsandbox

pytestmark = pytest.mark.usefixtures("no_server_errors")


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
