"""Run the credential chain: the first provider that answers wins."""

from __future__ import annotations

from collections.abc import Sequence

from un_async.core.credentials import CredentialContext, Credentials
from un_async.core.errors import ConfigurationError, CredentialsError
from un_async.core.hookspecs import CredentialProvider

__all__ = ["CONFIGURE_HINT", "resolve_credentials"]

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
