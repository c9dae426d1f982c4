"""Errors of the record/replay backend.

None of them is a :class:`~un_async.ServiceError`: a cassette problem is never retried as
if the network had failed, and never mistaken for something the server said. Messages
name fields, placeholders and files, never secret values.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from un_async.core.errors import ConfigurationError, UnsandboxError

__all__ = [
    "CassetteError",
    "CassetteFormatError",
    "CassetteMissError",
    "CassetteNotFoundError",
    "SecretLeakError",
    "SignatureMismatchError",
]


class CassetteError(UnsandboxError):
    """Base class of every record/replay error."""


class CassetteFormatError(CassetteError):
    """A cassette file is corrupt, not a cassette, or of an unsupported version."""


class CassetteNotFoundError(CassetteError, ConfigurationError):
    """Replay-only mode (``none``) was asked to use a cassette file that does not exist."""


class CassetteMissError(CassetteError):
    """No unused recorded interaction matches a request.

    ``request`` is the normalised request; ``closest`` the most similar recorded request
    (or ``None`` for an empty cassette), ``closest_index`` its position in the cassette,
    ``differences`` the dotted names of the fields that differ from it, and ``exhausted``
    is True when matching interactions exist but were all used already.
    """

    def __init__(
        self,
        message: str,
        *,
        request: dict[str, Any],
        closest: dict[str, Any] | None = None,
        closest_index: int | None = None,
        differences: Sequence[str] = (),
        exhausted: bool = False,
    ) -> None:
        super().__init__(message)
        self.request = request
        self.closest = closest
        self.closest_index = closest_index
        self.differences = tuple(differences)
        self.exhausted = exhausted


class SecretLeakError(CassetteError):
    """Saving was refused: the rendered cassette still contained a known secret.

    ``labels`` names the secrets found (such as ``UNSANDBOX_SECRET_KEY (base64)``); the
    file on disk is left exactly as it was.
    """

    def __init__(self, message: str, *, labels: Sequence[str]) -> None:
        super().__init__(message)
        self.labels = tuple(labels)


class SignatureMismatchError(CassetteError):
    """A replayed HTTP request was not signed correctly for the replay credentials.

    ``reason`` says which check failed: the ``Authorization`` header, the ``X-Timestamp``
    format, or the HMAC over the exact body bytes.
    """

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason
