"""The credential chain: the first provider that answers wins; a client asks it once."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence

from un_async.core.credentials import CredentialContext, Credentials
from un_async.core.errors import ConfigurationError, CredentialsError
from un_async.core.hookspecs import CredentialProvider

__all__ = [
    "CONFIGURE_HINT",
    "NO_CREDENTIALS",
    "ClientCredentials",
    "check_key_pair",
    "resolve_credentials",
]

log = logging.getLogger("un_async")

NO_CREDENTIALS = Credentials("", "", "none")
"""Passed to a backend whose ``requires_credentials`` is False when no keys were given."""

CONFIGURE_HINT = (
    "Pass public_key= and secret_key=, set UNSANDBOX_PUBLIC_KEY and UNSANDBOX_SECRET_KEY, "
    "or add a 'public_key,secret_key' line to ~/.unsandbox/accounts.csv (chmod 600) "
    "or ./accounts.csv."
)


async def resolve_credentials(
    providers: Sequence[CredentialProvider], context: CredentialContext
) -> Credentials:
    """Ask each provider in order and return the first credentials found.

    A :class:`CredentialsError` raised by a provider (a selected source that is broken)
    stops the chain and propagates. When every provider declines, the error lists each
    provider's ``describe()`` and how to configure credentials.
    """
    for provider in providers:
        credentials = await provider.get_credentials(context)
        if credentials is None:
            continue
        if not isinstance(credentials, Credentials):
            raise ConfigurationError(
                f"credential provider {_name(provider)!r} returned "
                f"{type(credentials).__name__}, not Credentials or None"
            )
        return credentials
    tried = "; ".join(_describe(provider, context) for provider in providers)
    raise CredentialsError(
        f"No credentials found. Tried: {tried or 'no credential providers'}. "
        + CONFIGURE_HINT
    )


def _name(provider: CredentialProvider) -> str:
    return str(getattr(provider, "name", type(provider).__name__))


def _describe(provider: CredentialProvider, context: CredentialContext) -> str:
    """The provider's own description; its name if ``describe`` itself fails."""
    try:
        return provider.describe(context)
    except Exception:  # a broken describe() must not hide the real error
        return _name(provider)


class ClientCredentials:
    """A client's credentials: resolved once through the provider chain (on first use,
    then reused), or given with a call. ``required=False`` (a backend that needs none)
    answers :data:`NO_CREDENTIALS` when the caller gave no keys."""

    def __init__(
        self,
        providers: Callable[[], Sequence[CredentialProvider]],
        context: CredentialContext,
        *,
        required: bool,
    ) -> None:
        self._providers = providers
        self._context = context
        self._required = required
        self._resolved: Credentials | None = None
        self._lock: asyncio.Lock | None = None

    async def resolved(self) -> Credentials:
        """The chain's answer, asked once."""
        if self._resolved is None:
            if self._lock is None:
                self._lock = asyncio.Lock()
            async with self._lock:
                if self._resolved is None:
                    found = await resolve_credentials(self._providers(), self._context)
                    log.debug("using credentials %s", found)
                    self._resolved = found
        return self._resolved

    async def for_call(self, public_key: str | None, secret_key: str | None) -> Credentials:
        """The keys passed to one call (both or neither), else the client's."""
        if public_key is None and secret_key is None:
            return await self.resolved() if self._required else NO_CREDENTIALS
        if not (public_key and secret_key):
            raise _missing_half(secret_key)
        return Credentials(public_key, secret_key, "explicit")


def check_key_pair(public_key: str | None, secret_key: str | None) -> None:
    """Raise :class:`CredentialsError` when exactly one of the keys is given."""
    if (public_key is None) != (secret_key is None):
        raise _missing_half(secret_key)


def _missing_half(secret_key: str | None) -> CredentialsError:
    missing = "secret_key" if not secret_key else "public_key"
    return CredentialsError(
        f"public_key and secret_key must be given together; {missing} is missing"
    )
