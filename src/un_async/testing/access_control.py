"""Who may do what on the fake server: HMAC request signatures (spec §2), the
per-account token-bucket rate limit (spec §5.3) and the sudo OTP challenge (spec §2.5).

The pipeline stores the authenticated account on each request under :data:`ACCOUNT`.
"""

from __future__ import annotations

import hmac
import math
import time
from collections.abc import Callable, Mapping, MutableMapping
from typing import Protocol, TypeVar

from aiohttp import web

from .http_replies import HTTPError, not_found
from .records import FakeAccount

__all__ = [
    "ACCOUNT",
    "TIMESTAMP_WINDOW",
    "check_active",
    "check_rate_limit",
    "check_signature",
    "check_sudo",
    "owned",
]

#: The authenticated account, stored on each request by the pipeline.
ACCOUNT = web.RequestKey("account", FakeAccount)
TIMESTAMP_WINDOW = 300  # seconds either side of the server clock (spec §2.3)


class _Owned(Protocol):
    @property
    def account(self) -> str: ...


_Record = TypeVar("_Record", bound=_Owned)


def check_signature(
    request: web.Request,
    body: bytes,
    accounts: Mapping[str, FakeAccount],
    *,
    server_time: float,
    verify: bool = True,
    strict_query_signing: bool = False,
    lenient_empty_body: bool = False,
) -> FakeAccount:
    """The account whose key signed ``request``, else a 401 :class:`HTTPError`.

    The signature covers ``timestamp:METHOD:path:body`` over the raw body bytes; the path
    is tried with and without its query unless ``strict_query_signing``; a ``{}`` body
    may be signed as empty when ``lenient_empty_body`` (spec §12.2).
    """
    headers = request.headers
    authorization = headers.get("Authorization", "")
    if not authorization.startswith("Bearer "):
        raise HTTPError(401, "unauthorized", "missing or malformed Authorization header")
    account = accounts.get(authorization[7:].strip())
    if account is None:
        raise HTTPError(401, "unauthorized", "invalid signature")
    if not verify:
        return account
    timestamp = headers.get("X-Timestamp")
    signature = headers.get("X-Signature")
    if timestamp is None or signature is None:
        raise HTTPError(401, "unauthorized", "missing X-Timestamp or X-Signature header")
    if not (timestamp.isascii() and timestamp.isdigit()):
        raise HTTPError(401, "invalid_timestamp", "Request timestamp must be whole Unix seconds")
    if abs(int(timestamp) - server_time) > TIMESTAMP_WINDOW:
        raise HTTPError(
            401, "invalid_timestamp", "Request timestamp expired or too far from server time"
        )
    signature = signature.strip().lower()
    if len(signature) == 64 and signature.isascii():
        raw_path = request.raw_path
        bare_path = raw_path.partition("?")[0]
        paths = (
            [raw_path] if strict_query_signing or bare_path == raw_path else [bare_path, raw_path]
        )
        bodies = [body]
        if lenient_empty_body and body.strip() == b"{}":
            bodies.append(b"")
        key = account.secret_key.encode()
        for path in paths:
            prefix = f"{timestamp}:{request.method}:{path}:".encode()
            for candidate in bodies:
                expected = hmac.digest(key, prefix + candidate, "sha256").hex()
                if hmac.compare_digest(expected, signature):
                    return account
    raise HTTPError(401, "unauthorized", "invalid signature")


def check_rate_limit(
    buckets: MutableMapping[str, tuple[float, float]],
    public_key: str,
    limit: tuple[int, float] | None,
    *,
    retry_after: bool = True,
) -> None:
    """Take one token from ``public_key``'s bucket (``limit`` = ``(n, seconds)``); 429
    ``rate_limit_exceeded`` (with ``Retry-After`` when ``retry_after``) when empty."""
    if limit is None:
        return
    capacity, per_seconds = limit
    refill = capacity / per_seconds
    now = time.monotonic()
    tokens, last = buckets.get(public_key, (float(capacity), now))
    tokens = min(float(capacity), tokens + (now - last) * refill)
    if tokens < 1.0:
        buckets[public_key] = (tokens, now)
        headers = {}
        if retry_after:
            headers["Retry-After"] = str(max(1, math.ceil((1.0 - tokens) / refill)))
        raise HTTPError(429, "rate_limit_exceeded", "Rate limit exceeded", headers)
    buckets[public_key] = (tokens - 1.0, now)


def check_sudo(
    challenges: MutableMapping[str, str],
    owner: str,
    headers: Mapping[str, str],
    otp: str | None,
    new_challenge_id: Callable[[], str],
) -> None:
    """Spec §2.5: without ``X-Sudo-OTP`` answer 428 with a fresh ``challenge_id``; with
    one, the code and the owner's challenge must match (403 otherwise), and the challenge
    is consumed. ``otp=None`` disables the check."""
    if otp is None:
        return
    given = headers.get("X-Sudo-OTP")
    if given is None:
        challenge_id = new_challenge_id()
        challenges[challenge_id] = owner
        raise HTTPError(
            428,
            "sudo_required",
            "Confirm with the one-time code sent by e-mail",
            challenge_id=challenge_id,
        )
    challenge = headers.get("X-Sudo-Challenge", "")
    if challenges.get(challenge) != owner or not hmac.compare_digest(given.encode(), otp.encode()):
        raise HTTPError(403, "invalid_otp", "invalid one-time code or challenge")
    del challenges[challenge]


def check_active(account: FakeAccount) -> None:
    """401 ``key_expired`` / ``key_suspended`` unless the account is active (spec §2.6:
    the reasons ``POST /keys/validate`` reports, which is exempt from this check)."""
    if account.status != "active":
        raise HTTPError(401, f"key_{account.status}", f"API key is {account.status}")


def owned(records: Mapping[str, _Record], request: web.Request, what: str) -> _Record:
    """The record named by the ``{id}`` in the request path, if the caller owns it;
    404 ``not_found`` otherwise (another account's records look absent)."""
    record = records.get(request.match_info["id"])
    if record is None or record.account != request[ACCOUNT].public_key:
        raise not_found(what)
    return record
