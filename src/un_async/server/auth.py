"""Request authentication as the service does it (spec §2).

``Authorization: Bearer <public key>``, ``X-Timestamp`` (whole seconds) within ±300 s of
the server's clock, and ``X-Signature`` = hex HMAC-SHA256 over
``timestamp:METHOD:path:body`` with the account's secret key, computed by the SDK's own
signer (:mod:`un_async.plugins.signing`) over the raw body bytes. The path is accepted
with or without its query string (clients differ, spec §2.2). Failures are 401 with a
JSON body; a timestamp outside the window says "timestamp" in its message.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Callable, Mapping

from un_async.plugins.signing import signature

__all__ = ["TIMESTAMP_WINDOW", "AuthenticationFailed", "RequestVerifier"]

TIMESTAMP_WINDOW = 300
"""Seconds a request's timestamp may differ from the server's clock."""


class AuthenticationFailed(Exception):
    """The request is not authenticated; ``error`` and ``message`` form the 401 body."""

    def __init__(self, error: str, message: str) -> None:
        super().__init__(message)
        self.error = error
        self.message = message


class RequestVerifier:
    """Checks requests against ``accounts`` (``{public_key: secret_key}``)."""

    def __init__(
        self,
        accounts: Mapping[str, str],
        *,
        window: int = TIMESTAMP_WINDOW,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._accounts = dict(accounts)
        self.window = window
        self._clock = clock

    def __repr__(self) -> str:
        return f"RequestVerifier(<{len(self._accounts)} accounts>, window={self.window})"

    def verify(
        self, *, method: str, path: str, query: str, body: bytes, headers: Mapping[str, str]
    ) -> str:
        """The public key of an authentic request; :class:`AuthenticationFailed` if not."""
        scheme, _, public_key = headers.get("Authorization", "").partition(" ")
        public_key = public_key.strip()
        if scheme.lower() != "bearer" or not public_key:
            raise AuthenticationFailed(
                "unauthorized", "missing Authorization: Bearer <public key> header"
            )
        secret_key = self._accounts.get(public_key)
        if secret_key is None:
            raise AuthenticationFailed("invalid_credential", "unknown public key")
        stamp = headers.get("X-Timestamp", "").strip()
        if not stamp.isdigit():
            raise AuthenticationFailed(
                "invalid_timestamp", "X-Timestamp must be the Unix time in whole seconds"
            )
        skew = abs(self._clock() - int(stamp))
        if skew > self.window:
            raise AuthenticationFailed(
                "invalid_timestamp",
                f"request timestamp is {skew:.0f} s away from the server's clock (allowed: "
                f"±{self.window} s); check this machine's clock",
            )
        given = headers.get("X-Signature", "").strip().lower().encode("utf-8", "replace")
        candidates = [path] + ([f"{path}?{query}"] if query else [])
        for signed_path in candidates:
            expected = signature(secret_key, stamp, method, signed_path, body)
            if hmac.compare_digest(expected.encode(), given):
                return public_key
        raise AuthenticationFailed("invalid_signature", "the request signature does not match")
