"""Key validation, health, languages and image generation on the fake server (spec §2.4,
§2.6, §3.9), the signature check on every route, and the server's assembly."""

from __future__ import annotations

import asyncio
import base64
import json
import re
import sys
import time
from collections.abc import Awaitable, Callable

import aiohttp
import pytest

from support.signed_http import Reply, send, sign
from un_async.testing import SPEC_LANGUAGES, TEST_PUBLIC_KEY, TEST_SECRET_KEY, FakeUnsandbox
from un_async.testing.__main__ import build_parser

Call = Callable[..., Awaitable[Reply]]

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PUBLIC = {"/health", "/languages"}


# --- key validation --------------------------------------------------------------------------


@pytest.mark.parametrize("raw", [b"", b"{}"])
async def test_validate_an_active_key(fake: FakeUnsandbox, call: Call, raw: bytes) -> None:
    fake.concurrency_limit, fake.rate_limit = 4, (30, 60.0)

    body = (await call("POST", "/keys/validate", raw=raw)).json()

    assert (body["valid"], body["status"], body["public_key"]) == (True, "active", TEST_PUBLIC_KEY)
    assert (body["tier"], body["concurrency"], body["burst"]) == ("pro", 4, 30)
    assert body["rate_per_minute"] == body["rate_limit"] == 30
    assert body["expires_at"] == body["valid_through_datetime"]
    assert body["valid_for_human"] == "30 days"


async def test_validate_an_expired_key(fake: FakeUnsandbox, call: Call) -> None:
    fake.accounts[TEST_PUBLIC_KEY].status = "expired"

    body = (await call("POST", "/keys/validate")).json()
    refused = await call("GET", "/sessions")

    assert (body["valid"], body["reason"], body["expired"]) == (False, "expired", True)
    assert body["renew_url"] == f"https://unsandbox.com/keys/extend?pk={TEST_PUBLIC_KEY}"
    assert {"expired_at_datetime", "expired_ago", "tier"} <= body.keys()
    assert (refused.status, refused.json()["error"]) == (401, "key_expired")


async def test_a_suspended_key_validates_as_invalid_and_is_refused_elsewhere(
    fake: FakeUnsandbox, call: Call
) -> None:
    fake.add_account("unsb-pk-suspended", "unsb-sk-suspended", status="suspended")
    keys = {"public_key": "unsb-pk-suspended", "secret_key": "unsb-sk-suspended"}

    body = (await call("POST", "/keys/validate", **keys)).json()
    refused = await call("POST", "/execute", {"language": "python", "code": ""}, **keys)

    assert (body["valid"], body["reason"]) == (False, "suspended")
    assert (refused.status, refused.json()["error"]) == (401, "key_suspended")
    assert fake.jobs == {}


async def test_validate_an_unknown_or_badly_signed_key(call: Call) -> None:
    unknown = await call("POST", "/keys/validate", public_key="unsb-pk-nobody")
    forged = await call("POST", "/keys/validate", secret_key="unsb-sk-wrong")
    assert (unknown.status, unknown.json()["error"]) == (401, "unauthorized")
    assert forged.status == 401


# --- health and languages ------------------------------------------------------------------


async def test_health_needs_no_auth_and_answers_head(fake: FakeUnsandbox, call: Call) -> None:
    got = await call("GET", "/health", auth=False)
    head = await call("HEAD", "/health", auth=False)
    assert (got.status, got.json()) == (200, {"status": "ok"})
    assert (head.status, head.body) == (200, b"")


async def test_health_answers_only_get_and_head(call: Call) -> None:
    reply = await call("POST", "/health", auth=False)
    assert (reply.status, reply.json()["error"]) == (405, "method_not_allowed")


async def test_languages(call: Call) -> None:
    body = (await call("GET", "/languages", auth=False)).json()
    assert body == {"languages": list(SPEC_LANGUAGES)}


async def test_languages_checks_a_signature_when_one_is_sent(call: Call) -> None:
    assert (await call("GET", "/languages", secret_key="unsb-sk-wrong")).status == 401


# --- image generation ----------------------------------------------------------------------


async def test_generate_images(call: Call) -> None:
    request = {"prompt": "a lighthouse", "size": "512x512", "quality": "hd", "n": 2, "model": "m"}

    body = (await call("POST", "/image", request)).json()

    assert len(body["images"]) == 2
    assert all(base64.b64decode(image).startswith(PNG_SIGNATURE) for image in body["images"])
    assert (body["size"], body["quality"], body["model"]) == ("512x512", "hd", "m")
    assert isinstance(body["created_at"], int)


@pytest.mark.parametrize(
    "request_body",
    [
        {},
        {"prompt": "  "},
        {"prompt": "x", "size": "10x10"},
        {"prompt": "x", "quality": "best"},
        {"prompt": "x", "n": 5},
    ],
)
async def test_generate_images_rejects_bad_requests(
    call: Call, request_body: dict[str, object]
) -> None:
    assert (await call("POST", "/image", request_body)).status == 400


# --- every route is signature-checked --------------------------------------------------------


def api_routes(fake: FakeUnsandbox) -> list[tuple[str, str]]:
    """Every ``(method, path)`` the app serves, ``{placeholders}`` filled in."""
    routes = []
    for route in fake.app.router.routes():
        path = route.resource.canonical if route.resource is not None else ""
        if route.method == "HEAD" or path in _PUBLIC or path.startswith("/_fake/"):
            continue
        routes.append((route.method, re.sub(r"\{[^}]+\}", "x", path)))
    return routes


async def test_every_api_route_needs_a_valid_signature(
    fake: FakeUnsandbox, http: aiohttp.ClientSession
) -> None:
    routes = api_routes(fake)
    roots = {path.split("/")[1] for _, path in routes}
    assert roots == {
        "keys",
        "execute",
        "jobs",
        "sessions",
        "services",
        "snapshots",
        "images",
        "image",
    }

    for method, path in routes:
        unsigned = await send(http, fake, method, path, {}, auth=False)
        forged = await send(http, fake, method, path, {}, secret_key="unsb-sk-wrong")
        assert (unsigned.status, forged.status) == (401, 401), (method, path)
    assert fake.response_statuses == {401: 2 * len(routes)}


async def test_route_groups_share_one_state(fake: FakeUnsandbox, call: Call) -> None:
    service_id = fake.add_service()
    executed = await call("POST", f"/services/{service_id}/execute", {"command": "echo hi"})
    listed = (await call("GET", "/jobs")).json()
    assert [job["job_id"] for job in listed["jobs"]] == [executed.json()["job_id"]]


# --- knobs ---------------------------------------------------------------------------------


async def test_the_cli_sets_the_vcpu_limit(http: aiohttp.ClientSession) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "un_async.testing",
        "--vcpu-limit",
        "1",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        url = (await asyncio.wait_for(process.stdout.readline(), timeout=20)).decode().strip()
        body = json.dumps({"vcpu": 2}).encode()
        stamp = str(int(time.time()))
        headers = {
            "Authorization": f"Bearer {TEST_PUBLIC_KEY}",
            "X-Timestamp": stamp,
            "X-Signature": sign(TEST_SECRET_KEY, stamp, "POST", "/sessions", body),
        }
        async with http.post(url + "/sessions", data=body, headers=headers) as resp:
            assert (resp.status, (await resp.json())["error"]) == (
                429,
                "concurrency_limit_reached",
            )
    finally:
        process.terminate()
        _, stderr = await asyncio.wait_for(process.communicate(), timeout=10)
    assert (process.returncode, stderr) == (0, b"")


def test_the_cli_refuses_a_bad_vcpu_limit() -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--vcpu-limit", "many"])


def test_a_non_positive_vcpu_limit_is_refused() -> None:
    with pytest.raises(ValueError, match="vcpu_limit"):
        FakeUnsandbox(vcpu_limit=0)
