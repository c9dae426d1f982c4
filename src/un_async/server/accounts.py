"""Key pairs the server accepts: generated per start, or given as ``PUBLIC:SECRET``."""

from __future__ import annotations

import secrets

import attrs

from un_async.core.credentials import Credentials
from un_async.core.errors import CredentialsError

__all__ = ["ServerAccount", "generate_account", "parse_account"]


@attrs.frozen
class ServerAccount:
    """One accepted key pair (the secret never appears in ``repr``)."""

    public_key: str
    secret_key: str = attrs.field(repr=False)


def _groups(count: int, size: int) -> str:
    return "-".join(secrets.token_hex(size)[:size] for _ in range(count))


def generate_account() -> ServerAccount:
    """A fresh random pair shaped like the service's keys (``unsb-pk-…``/``unsb-sk-…``)."""
    return ServerAccount(f"unsb-pk-{_groups(4, 4)}", f"unsb-sk-{_groups(4, 5)}")


def parse_account(text: str) -> ServerAccount:
    """``PUBLIC:SECRET`` as an account; :class:`ValueError` when malformed."""
    public_key, sep, secret_key = text.partition(":")
    if not sep or not public_key or not secret_key:
        raise ValueError("expected PUBLIC_KEY:SECRET_KEY")
    try:
        Credentials(public_key, secret_key, "--account")  # the SDK's own key checks
    except CredentialsError as exc:
        raise ValueError(str(exc)) from None
    return ServerAccount(public_key, secret_key)
