"""Signed, retried requests: the one place where a call becomes HTTP exchanges.

Every API call of the backend goes through :meth:`SignedRequester.call`, which returns
the reply's decoded JSON. For every attempt the body bytes are signed with a fresh
timestamp and sent unchanged.
Failures are retried per :class:`~un_async.core.retry.RetryPolicy` (never re-sending a
non-idempotent request the server may have acted on). Two replies get special handling:
a 401 that blames the timestamp is retried once with the clock offset taken from the
server's ``Date`` header (kept for the client's lifetime), and a 428 sudo challenge is
answered once when the caller supplied a one-time-password callback.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections.abc import Awaitable, Callable
from email.utils import parsedate_to_datetime
from typing import Any

from un_async.backends.unsandbox.transport import HttpRequest, HttpResponse, Transport
from un_async.core.credentials import Credentials
from un_async.core.events import ExecutionEvent
from un_async.core.executor import SudoCallback
from un_async.core.hookspecs import Signer
from un_async.core.retry import RetryPolicy
from un_async.core.service_errors import (
    APIError,
    AuthenticationError,
    SudoRequiredError,
    TransportError,
    error_for_status,
)

__all__ = ["NOTE_CREDENTIALS", "SignedRequester"]

log = logging.getLogger("un_async")

NOTE_CREDENTIALS = "note_credentials"
"""Optional transport hook: ``transport.note_credentials(credentials)`` is called before a
request signed with credentials the transport has not been shown yet (the cassette
recorder uses it to redact both keys)."""


def _decode_json(response: HttpResponse, method: str, path: str) -> Any:
    """The body's JSON; ``None`` for an empty (or blank) body."""
    body = response.body
    try:
        return json.loads(body) if body else None
    except ValueError as exc:
        if not body.strip():
            return None
        raise TransportError(
            f"malformed reply to {method} {path}: HTTP {response.status} body is not JSON"
        ) from exc


def _error_body(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body) if body.strip() else {}
    except ValueError:
        data = None
    if isinstance(data, dict):
        return data
    text = body[:500].decode("utf-8", "replace").strip()
    return {"raw": text} if text else {}


def _server_clock_offset(response_headers: Any) -> float | None:
    date = response_headers.get("Date") if response_headers else None
    if not date:
        return None
    try:
        return parsedate_to_datetime(date).timestamp() - time.time()
    except (TypeError, ValueError, IndexError):
        return None


class SignedRequester:
    """Signs, sends and retries requests over a :class:`Transport`."""

    def __init__(
        self,
        transport: Transport,
        signer: Signer,
        retry: RetryPolicy,
        *,
        on_event: Callable[[ExecutionEvent], None] | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.transport = transport
        self.signer = signer
        self.retry = retry
        self.clock_offset = 0.0
        self._on_event = on_event
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._note_credentials: Callable[[Credentials], object] | None = getattr(
            transport, NOTE_CREDENTIALS, None
        )
        self._noted: Credentials | None = None

    def timestamp(self) -> int:
        """Unix seconds, corrected by the learned server clock offset."""
        return int(time.time() + self.clock_offset)

    async def call(
        self,
        credentials: Credentials,
        method: str,
        path: str,
        *,
        body: bytes = b"",
        query: tuple[tuple[str, str], ...] = (),
        idempotent: bool,
        timeout: float | None = None,
        sudo: SudoCallback | None = None,
        retry: bool = True,
        content_type: str | None = None,
    ) -> Any:
        """Perform one API call and return its 2xx reply's decoded JSON (``None`` for an
        empty body), or raise a typed error.

        ``body`` is sent and signed exactly as given; ``content_type`` replaces the
        transport's default (``application/json``) for this request.
        """
        if self._note_credentials is not None and credentials is not self._noted:
            self._note_credentials(credentials)
            self._noted = credentials
        started = time.monotonic()
        attempt = 1
        extra: dict[str, str] | None = {"Content-Type": content_type} if content_type else None
        skew_corrected = sudo_answered = False
        while True:
            signed_offset = self.clock_offset
            headers = self.signer.sign(
                credentials,
                timestamp=int(time.time() + signed_offset),
                method=method,
                path=path,
                body=body,
            )
            if extra is not None:
                headers = {**headers, **extra}
            request = HttpRequest(method, path, body, query, headers, timeout)
            try:
                response = await self.transport.send(request)
                if response.status < 400:
                    if log.isEnabledFor(logging.DEBUG):
                        log.debug("%s %s -> %d", method, path, response.status)
                    return _decode_json(response, method, path)
                log.debug("%s %s -> %d (error)", method, path, response.status)
                raise error_for_status(
                    response.status,
                    _error_body(response.body),
                    method=method,
                    path=path,
                    headers=response.headers,
                )
            except AuthenticationError as exc:
                if (
                    skew_corrected
                    or not exc.clock_skew
                    or not self._correct_clock(exc, signed_offset)
                ):
                    raise
                skew_corrected = True
            except SudoRequiredError as exc:
                if sudo is None or sudo_answered or exc.challenge_id is None:
                    raise
                otp = await sudo(exc.challenge_id)
                extra = {**(extra or {}), "X-Sudo-OTP": otp, "X-Sudo-Challenge": exc.challenge_id}
                sudo_answered = True
            except (TransportError, APIError) as exc:
                delay = self._retry_delay(exc, attempt, started, idempotent, retry)
                if delay is None:
                    raise
                self._emit_retry(method, path, attempt, delay, exc)
                await self._sleep(delay)
                attempt += 1

    def _retry_delay(
        self, exc: Exception, attempt: int, started: float, idempotent: bool, retry: bool
    ) -> float | None:
        policy = self.retry
        if not retry or attempt >= policy.max_attempts:
            return None
        if not policy.is_retryable(exc, idempotent=idempotent):
            return None
        delay = policy.delay(attempt, exc, self._rng)
        if policy.deadline is not None and time.monotonic() - started + delay > policy.deadline:
            return None
        return delay

    def _correct_clock(self, exc: AuthenticationError, signed_offset: float) -> bool:
        """Adopt the server's clock when the rejected request was signed with another
        offset; a concurrent call may have adopted it already (then no new warning)."""
        offset = _server_clock_offset(exc.headers)
        if offset is None or abs(offset - signed_offset) < 1.0:
            return False
        if abs(offset - self.clock_offset) >= 1.0:
            log.warning(
                "local clock is %+.0f s away from the server's; correcting request timestamps",
                -offset,
            )
            self.clock_offset = offset
        return True

    def _emit_retry(
        self, method: str, path: str, attempt: int, delay: float, exc: Exception
    ) -> None:
        log.info(
            "retrying %s %s after %s (attempt %d, waiting %.2f s)",
            method,
            path,
            type(exc).__name__,
            attempt + 1,
            delay,
        )
        if self._on_event is not None:
            self._on_event(
                ExecutionEvent(
                    kind="retry",
                    detail={
                        "method": method,
                        "path": path,
                        "attempt": attempt + 1,
                        "delay": delay,
                        "error": type(exc).__name__,
                        "status": getattr(exc, "status", None),
                    },
                )
            )
