"""Built-in credential providers, in the current resolution order (spec §6.3).

1. ``explicit`` - the ``public_key``/``secret_key`` arguments (both, or neither counts).
2. ``account-index`` - an explicit ``account_index``: that row of ``~/.unsandbox/accounts.csv``,
   else of ``./accounts.csv``; the environment is deliberately skipped, and a missing row
   is an error rather than a fall-through.
3. ``environment`` - ``UNSANDBOX_PUBLIC_KEY`` and ``UNSANDBOX_SECRET_KEY``.
4. ``home-accounts`` - row ``UNSANDBOX_ACCOUNT`` (default 0) of ``~/.unsandbox/accounts.csv``.
5. ``local-accounts`` - the same row of ``./accounts.csv``.

accounts.csv holds one ``public_key,secret_key[,anything]`` per line. Blank lines and lines
starting with ``#`` are not rows; fields are stripped. Files are read in a worker thread. A
file readable by group or others is reported once per path with a logging warning.
Secret keys never appear in messages or logs, public keys only masked.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import threading
from pathlib import Path

import attrs

from un_async.core.credentials import CredentialContext, Credentials
from un_async.core.errors import CredentialsError
from un_async.core.hookspecs import RegisterCredentialProvider, hookimpl

__all__ = [
    "ACCOUNTS_FILE",
    "ENV_ACCOUNT",
    "ENV_PUBLIC_KEY",
    "ENV_SECRET_KEY",
    "AccountIndexProvider",
    "AccountsFile",
    "AccountsFileProvider",
    "EnvironmentProvider",
    "ExplicitProvider",
    "read_accounts_file",
    "register_credential_providers",
]

ACCOUNTS_FILE = "accounts.csv"
ENV_PUBLIC_KEY = "UNSANDBOX_PUBLIC_KEY"
ENV_SECRET_KEY = "UNSANDBOX_SECRET_KEY"  # noqa: S105 (a variable name)
ENV_ACCOUNT = "UNSANDBOX_ACCOUNT"

_LOG = logging.getLogger("un_async")
_ROW_INDEX = re.compile(r"[0-9]+", re.ASCII)
_MAX_FILE_BYTES = 1024 * 1024
_warned_paths: set[str] = set()
_warned_lock = threading.Lock()


@attrs.frozen
class AccountsFile:
    """The data rows of one accounts.csv: ``(line_number, stripped_line)`` pairs.

    The ``repr`` shows only the row count, never the keys.
    """

    path: Path
    rows: tuple[tuple[int, str], ...] = attrs.field(repr=lambda rows: f"<{len(rows)} rows>")

    def credentials(self, index: int, source: str) -> Credentials | None:
        """Row ``index`` as credentials; ``None`` when the file has no such row.

        Raises :class:`CredentialsError` when the row exists but is malformed.
        """
        if index >= len(self.rows):
            return None
        line_number, line = self.rows[index]
        fields = [field.strip() for field in line.split(",")]
        if len(fields) < 2 or not fields[0] or not fields[1]:
            raise CredentialsError(
                f"{self.path}: account row {index} (line {line_number}) is malformed; "
                "expected 'public_key,secret_key'"
            )
        return Credentials(fields[0], fields[1], source=source)

    def count(self) -> str:
        """``"N row(s)"`` for messages."""
        return f"{len(self.rows)} row" + ("" if len(self.rows) == 1 else "s")


def read_accounts_file(path: Path) -> AccountsFile | None:
    """Read and split ``path`` (blocking); ``None`` when the file does not exist.

    Raises :class:`CredentialsError` when the file exists but cannot be read or decoded.
    """
    try:
        with path.open("rb") as handle:
            _warn_if_exposed(path, os.fstat(handle.fileno()).st_mode)
            data = handle.read(_MAX_FILE_BYTES + 1)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        raise CredentialsError(f"cannot read {path}: {exc.strerror or exc}") from None
    if len(data) > _MAX_FILE_BYTES:
        raise CredentialsError(f"{path} is larger than {_MAX_FILE_BYTES} bytes")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise CredentialsError(f"{path} is not valid UTF-8") from None
    rows = tuple(
        (number, stripped)
        for number, line in enumerate(text.splitlines(), start=1)
        if (stripped := line.strip()) and not stripped.startswith("#")
    )
    return AccountsFile(path, rows)


def _warn_if_exposed(path: Path, mode: int) -> None:
    """Log once per path when accounts.csv is readable by group or others (like ssh)."""
    if os.name == "nt" or not mode & 0o077:
        return
    key = str(path)
    with _warned_lock:
        if key in _warned_paths:
            return
        _warned_paths.add(key)
    _LOG.warning("%s is readable by other users; chmod 600 %s", path, path)


def _describe_file(label: str, path: Path, index: int, found: AccountsFile | None) -> str:
    if found is None:
        return f"{label} ({path}): file not found"
    return f"{label} ({path}): no account row {index} ({found.count()})"


class _Memo:
    """Remembers why a file provider last declined, so ``describe`` does no I/O."""

    def __init__(self) -> None:
        self._outcomes: dict[tuple[str, int], str] = {}
        self._lock = threading.Lock()

    def remember(self, path: Path, index: int, text: str) -> None:
        with self._lock:
            if len(self._outcomes) >= 64:
                self._outcomes.clear()
            self._outcomes[(str(path), index)] = text

    def recall(self, path: Path, index: int) -> str | None:
        with self._lock:
            return self._outcomes.get((str(path), index))


class ExplicitProvider:
    """Keys passed to the call or client; one key without the other is ignored."""

    name = "explicit"

    async def get_credentials(self, context: CredentialContext) -> Credentials | None:
        public, secret = (context.public_key or "").strip(), (context.secret_key or "").strip()
        if public and secret:
            return Credentials(public, secret, source="explicit")
        return None

    def describe(self, context: CredentialContext) -> str:
        public, secret = (context.public_key or "").strip(), (context.secret_key or "").strip()
        if public and not secret:
            return "explicit keys: public_key given without secret_key (both are required)"
        if secret and not public:
            return "explicit keys: secret_key given without public_key (both are required)"
        return "explicit keys: not given"

    def __repr__(self) -> str:
        return "ExplicitProvider()"


class AccountIndexProvider:
    """An explicit ``account_index``: that row of the home, then the local accounts.csv.

    Declines only when no index was requested. Otherwise it returns the row or raises
    :class:`CredentialsError` naming both files; it never falls through to the environment.
    """

    name = "account-index"

    async def get_credentials(self, context: CredentialContext) -> Credentials | None:
        index = context.account_index
        if index is None:
            return None
        if index < 0:
            raise CredentialsError(f"account_index must be 0 or greater, got {index}")
        tried: list[str] = []
        for label, path in _candidate_files(context):
            found = await asyncio.to_thread(read_accounts_file, path)
            source = f"{self.name} ({path}, row {index})"
            credentials = found.credentials(index, source) if found is not None else None
            if credentials is not None:
                return credentials
            tried.append(_describe_file(label, path, index, found))
        raise CredentialsError(
            f"account_index={index} was requested but no file has that row: " + "; ".join(tried)
        )

    def describe(self, context: CredentialContext) -> str:
        if context.account_index is None:
            return "account_index: not given"
        return f"account_index={context.account_index}"

    def __repr__(self) -> str:
        return "AccountIndexProvider()"


def _candidate_files(context: CredentialContext) -> list[tuple[str, Path]]:
    return [
        ("~/.unsandbox/accounts.csv", context.config_dir / ACCOUNTS_FILE),
        ("./accounts.csv", context.cwd / ACCOUNTS_FILE),
    ]


class EnvironmentProvider:
    """``UNSANDBOX_PUBLIC_KEY`` and ``UNSANDBOX_SECRET_KEY``, both non-empty after stripping."""

    name = "environment"

    async def get_credentials(self, context: CredentialContext) -> Credentials | None:
        public = context.environ.get(ENV_PUBLIC_KEY, "").strip()
        secret = context.environ.get(ENV_SECRET_KEY, "").strip()
        if public and secret:
            return Credentials(public, secret, source="environment")
        return None

    def describe(self, context: CredentialContext) -> str:
        missing = [
            name
            for name in (ENV_PUBLIC_KEY, ENV_SECRET_KEY)
            if not context.environ.get(name, "").strip()
        ]
        if len(missing) == 2:
            return f"environment: {ENV_PUBLIC_KEY} and {ENV_SECRET_KEY} not set"
        if missing:
            return f"environment: {missing[0]} not set (both variables are required)"
        return "environment: both variables set"

    def __repr__(self) -> str:
        return "EnvironmentProvider()"


def _account_from_env(context: CredentialContext) -> int:
    """The ``UNSANDBOX_ACCOUNT`` row index (default 0); invalid values raise CredentialsError."""
    raw = context.environ.get(ENV_ACCOUNT, "").strip()
    if not raw:
        return 0
    if not _ROW_INDEX.fullmatch(raw):
        shown = raw if len(raw) <= 40 else raw[:40] + "…"
        raise CredentialsError(
            f"{ENV_ACCOUNT}={shown!r} is invalid: expected a row number 0 or greater"
        )
    return int(raw)


class AccountsFileProvider:
    """Row ``UNSANDBOX_ACCOUNT`` (default 0) of one accounts.csv; declines when absent."""

    def __init__(self, name: str, label: str, *, home: bool) -> None:
        self.name = name
        self._label = label
        self._home = home
        self._memo = _Memo()

    def path(self, context: CredentialContext) -> Path:
        """The file this provider reads for ``context``."""
        base = context.config_dir if self._home else context.cwd
        return base / ACCOUNTS_FILE

    async def get_credentials(self, context: CredentialContext) -> Credentials | None:
        index = _account_from_env(context)
        path = self.path(context)
        found = await asyncio.to_thread(read_accounts_file, path)
        credentials = (
            found.credentials(index, f"{self.name} ({path}, row {index})")
            if found is not None
            else None
        )
        if credentials is None:
            self._memo.remember(path, index, _describe_file(self._label, path, index, found))
        return credentials

    def describe(self, context: CredentialContext) -> str:
        path = self.path(context)
        try:
            index = _account_from_env(context)
        except CredentialsError as exc:
            return f"{self._label} ({path}): {exc}"
        return self._memo.recall(path, index) or f"{self._label} ({path}): row {index}"

    def __repr__(self) -> str:
        return f"AccountsFileProvider({self.name!r})"


@hookimpl(trylast=True)
def register_credential_providers(register: RegisterCredentialProvider) -> None:
    """Install the built-in chain: explicit, account-index, environment, home, local."""
    register(ExplicitProvider())
    register(AccountIndexProvider())
    register(EnvironmentProvider())
    register(AccountsFileProvider("home-accounts", "~/.unsandbox/accounts.csv", home=True))
    register(AccountsFileProvider("local-accounts", "./accounts.csv", home=False))
