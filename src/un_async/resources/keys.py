"""``client.keys``: the API key pair's own status (spec §2.6)."""

from __future__ import annotations

from un_async.resources.base import Namespace, object_of
from un_async.resources.models import KeyValidation

__all__ = ["Keys"]


class Keys(Namespace):
    """The key endpoints; ``client.keys``."""

    __slots__ = ()

    async def validate(
        self, *, public_key: str | None = None, secret_key: str | None = None
    ) -> KeyValidation:
        """``POST /keys/validate`` (empty body, signed as empty): whether the keys are
        valid and, if so, their ``tier``, expiry and rate limits; otherwise ``valid`` is
        False and ``reason`` says why (``expired``, ``suspended``, ...). An unknown key
        raises :class:`~un_async.core.service_errors.AuthenticationError`."""
        data = await self._call(
            "keys.validate", "POST", "/keys/validate", public_key=public_key, secret_key=secret_key
        )
        return KeyValidation(object_of(data, "the key validation") or {})
