"""API credentials and the context credential providers resolve them from.

A :class:`Credentials` never shows its secret key, and only a short prefix of its public
key, in ``repr``/``str``, so logging one is safe.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import attrs

from un_async.core.errors import CredentialsError

__all__ = ["CredentialContext", "Credentials", "mask_key"]


def mask_key(key: str) -> str:
    """A log-safe form of a key: its first 12 characters and an ellipsis."""
    return f"{key[:12]}…" if len(key) > 12 else "…"


def _check_key(credentials: Credentials, attribute: attrs.Attribute[str], value: object) -> None:
    """Keys travel in HTTP headers or key an HMAC: printable ASCII without spaces only.

    An empty pair is allowed: it stands for "no credentials" (offline replay).
    """
    if not isinstance(value, str):
        raise CredentialsError(f"{attribute.name} must be a string")
    if value and not (value.isascii() and value.isprintable() and " " not in value):
        raise CredentialsError(
            f"{attribute.name} (from {credentials.source}) contains whitespace, control or "
            "non-ASCII characters"
        )


@attrs.frozen
class Credentials:
    """A public/secret key pair and the name of the source it came from.

    Keys with whitespace, control or non-ASCII characters raise :class:`CredentialsError`.
    """

    public_key: str = attrs.field(repr=mask_key, validator=_check_key)
    secret_key: str = attrs.field(repr=False, validator=_check_key)
    source: str = "explicit"

    def __str__(self) -> str:
        return f"{mask_key(self.public_key)} (from {self.source})"


@attrs.frozen(kw_only=True)
class CredentialContext:
    """Everything a credential provider may consult, captured once per client.

    ``account_index`` is an explicit account row (``None`` when not requested);
    ``environ`` is a snapshot of the environment; ``home`` and ``cwd`` locate
    ``~/.unsandbox/accounts.csv`` and ``./accounts.csv``.
    """

    public_key: str | None = attrs.field(default=None, repr=False)
    secret_key: str | None = attrs.field(default=None, repr=False)
    account_index: int | None = None
    environ: Mapping[str, str] = attrs.field(factory=lambda: dict(os.environ), repr=False)
    home: Path = attrs.field(factory=Path.home)
    cwd: Path = attrs.field(factory=Path.cwd)

    @property
    def config_dir(self) -> Path:
        """``~/.unsandbox``: where accounts.csv and the languages cache live."""
        return self.home / ".unsandbox"
