"""Execution (spec §3.1, §4): ``POST /execute`` and ``/execute/async`` in each mode, request
validation, scripted and emulated programs, run time and ttl.

Spoken to over real loopback HTTP with a raw aiohttp client and an independent signer
(:mod:`support.signed_http`).
"""

from __future__ import annotations

import base64
import time
from typing import Any

import aiohttp
import pytest

from support.signed_http import PRINT_HI, send
from un_async.testing import DurationModel, FakeUnsandbox

pytestmark = pytest.mark.usefixtures("no_server_errors")


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
        "python", "x", stdout="out", stderr="warn", exit_code=3, artifacts={"out.txt": b"\x00\x01"}
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
