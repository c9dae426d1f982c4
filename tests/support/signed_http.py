"""Raw HTTP requests to the fake server, signed by a signer written independently of the
SDK (spec §2.2), so that the server is tested on its own terms."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from typing import Any

import aiohttp

from un_async.testing import TEST_PUBLIC_KEY, TEST_SECRET_KEY, FakeUnsandbox

__all__ = ["PRINT_HI", "Reply", "send", "sign"]

PRINT_HI = {"language": "python", "code": 'print("hi")'}
"""An execution request whose program prints ``hi``."""


def sign(secret: str, timestamp: str, method: str, path: str, body: bytes = b"") -> str:
    """Hex HMAC-SHA256 of ``timestamp:METHOD:path:body`` under ``secret``."""
    message = f"{timestamp}:{method}:{path}:".encode() + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


class Reply:
    """A response read in full: status, headers and body bytes."""

    def __init__(self, status: int, headers: Mapping[str, str], body: bytes) -> None:
        self.status, self.headers, self.body = status, headers, body

    def json(self) -> Any:
        """The body parsed as JSON."""
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
    """Send ``payload`` as JSON (or ``raw`` bytes) to ``fake``; with ``auth``, signed for
    ``public_key``/``secret_key`` at ``timestamp`` (default now). ``signed_path`` and
    ``signed_body`` sign something other than what is sent."""
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
