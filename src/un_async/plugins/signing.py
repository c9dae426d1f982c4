"""Built-in signer: HMAC-SHA256 request signatures (spec §2).

``X-Signature = hex(HMAC-SHA256(secret_key, f"{timestamp}:{METHOD}:{path}:" + body))``
computed over the exact body bytes that are sent; ``path`` excludes the query string
unless the caller includes it.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping

from un_async.core.credentials import Credentials
from un_async.core.hookspecs import Signer, hookimpl

__all__ = ["HmacSigner", "get_signer", "signature"]


def signature(secret_key: str, timestamp: int | str, method: str, path: str, body: bytes) -> str:
    """The lowercase hex HMAC-SHA256 of ``timestamp:METHOD:path:body``."""
    message = f"{timestamp}:{method.upper()}:{path}:".encode() + body
    return hmac.digest(secret_key.encode(), message, "sha256").hex()


class HmacSigner:
    """Signs requests with ``Authorization``, ``X-Timestamp`` and ``X-Signature``."""

    def sign(
        self, credentials: Credentials, *, timestamp: int, method: str, path: str, body: bytes
    ) -> Mapping[str, str]:
        stamp = str(timestamp)
        return {
            "Authorization": f"Bearer {credentials.public_key}",
            "X-Timestamp": stamp,
            "X-Signature": signature(credentials.secret_key, stamp, method, path, body),
        }

    def __repr__(self) -> str:
        return "HmacSigner()"


_SIGNER = HmacSigner()


@hookimpl(trylast=True)
def get_signer(backend: str) -> Signer:
    """Every backend signs with HMAC-SHA256 unless a plugin says otherwise."""
    return _SIGNER
