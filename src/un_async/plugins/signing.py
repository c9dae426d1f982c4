"""Built-in signer: HMAC-SHA256 request signatures (spec §2).

``X-Signature = hex(HMAC-SHA256(secret_key, f"{timestamp}:{METHOD}:{path}:" + body))``
computed over the exact body bytes that are sent; ``path`` excludes the query string
unless the caller includes it. The prefix and the body are fed to the MAC one after the
other, so the body is never copied for signing.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from typing import Protocol

from un_async.core.credentials import Credentials
from un_async.core.hookspecs import Signer, hookimpl

__all__ = ["HmacSigner", "get_signer", "signature"]

_KEYED_LIMIT = 16
"""Keyed MACs a signer keeps (one per key pair in use); more empties the cache."""


class _Mac(Protocol):
    """A keyed MAC: :class:`hmac.HMAC` or the C object behind it."""

    def copy(self) -> _Mac: ...

    def update(self, data: bytes, /) -> None: ...

    def hexdigest(self) -> str: ...


def _mac(keyed: _Mac, timestamp: int | str, method: str, path: str, body: bytes) -> str:
    mac = keyed.copy()
    mac.update(f"{timestamp}:{method.upper()}:{path}:".encode())
    if body:
        mac.update(body)
    return mac.hexdigest()


def signature(secret_key: str, timestamp: int | str, method: str, path: str, body: bytes) -> str:
    """The lowercase hex HMAC-SHA256 of ``timestamp:METHOD:path:body``."""
    return _mac(hmac.new(secret_key.encode(), digestmod="sha256"), timestamp, method, path, body)


class HmacSigner:
    """Signs requests with ``Authorization``, ``X-Timestamp`` and ``X-Signature``.

    The MAC keyed with a secret (and the ``Authorization`` value) is set up once per key
    pair and copied per request: keying it is a third of the cost of a signature.
    """

    def __init__(self) -> None:
        self._keyed: dict[str, tuple[_Mac, str, str]] = {}

    def sign(
        self, credentials: Credentials, *, timestamp: int, method: str, path: str, body: bytes
    ) -> Mapping[str, str]:
        keyed = self._keyed.get(credentials.secret_key)
        if keyed is None or keyed[2] != credentials.public_key:
            keyed = self._key(credentials)
        stamp = str(timestamp)
        return {
            "Authorization": keyed[1],
            "X-Timestamp": stamp,
            "X-Signature": _mac(keyed[0], stamp, method, path, body),
        }

    def _key(self, credentials: Credentials) -> tuple[_Mac, str, str]:
        if len(self._keyed) >= _KEYED_LIMIT:
            self._keyed.clear()
        keyed = hmac.new(credentials.secret_key.encode(), digestmod="sha256")
        # With OpenSSL the MAC wraps a C object with the same copy/update/hexdigest
        # methods; using it directly saves three Python-level calls per signature.
        mac: _Mac = getattr(keyed, "_hmac", None) or keyed
        public_key = credentials.public_key
        entry = (mac, f"Bearer {public_key}", public_key)
        self._keyed[credentials.secret_key] = entry
        return entry

    def __repr__(self) -> str:
        return "HmacSigner()"


_SIGNER = HmacSigner()


@hookimpl(trylast=True)
def get_signer(backend: str) -> Signer:
    """Every backend signs with HMAC-SHA256 unless a plugin says otherwise."""
    return _SIGNER
