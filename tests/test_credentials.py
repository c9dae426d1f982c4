"""Credential resolution: the built-in chain (spec §6.3) and accounts.csv parsing (§6.2)."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from un_async.core.credential_chain import CONFIGURE_HINT, resolve_credentials
from un_async.core.credentials import CredentialContext, Credentials
from un_async.core.errors import CredentialsError
from un_async.core.hookspecs import CredentialProvider
from un_async.core.plugin_host import PluginHost
from un_async.plugins.credentials import read_accounts_file

ENV_PK = "unsb-pk-env-0000-public"
ENV_SK = "unsb-sk-env-0000-SECRET"
ENV = {"UNSANDBOX_PUBLIC_KEY": ENV_PK, "UNSANDBOX_SECRET_KEY": ENV_SK}


@pytest.fixture(scope="module")
def providers() -> list[CredentialProvider]:
    return PluginHost(load_entry_points=False).credential_providers()


@pytest.fixture
def dirs(tmp_path: Path) -> tuple[Path, Path]:
    home, cwd = tmp_path / "home", tmp_path / "project"
    home.mkdir()
    cwd.mkdir()
    return home, cwd


def key(kind: str, where: str, row: int) -> str:
    return f"unsb-{kind}-{where}-{row:04d}-{'x' * 20}"


def write_accounts(directory: Path, text: str, mode: int = 0o600) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "accounts.csv"
    path.write_bytes(text.encode())
    path.chmod(mode)
    return path


def rows(where: str, count: int) -> str:
    return "".join(f"{key('pk', where, i)},{key('sk', where, i)}\n" for i in range(count))


def home_file(home: Path, text: str, mode: int = 0o600) -> Path:
    return write_accounts(home / ".unsandbox", text, mode)


def context(
    dirs: tuple[Path, Path], environ: Mapping[str, str] | None = None, **kwargs: Any
) -> CredentialContext:
    home, cwd = dirs
    return CredentialContext(home=home, cwd=cwd, environ=dict(environ or {}), **kwargs)


async def resolve(
    providers: list[CredentialProvider], ctx: CredentialContext
) -> Credentials:
    return await resolve_credentials(providers, ctx)


def test_builtin_order(providers: list[CredentialProvider]) -> None:
    assert [p.name for p in providers] == [
        "explicit", "account-index", "environment", "home-accounts", "local-accounts",
    ]


# --- priority order -----------------------------------------------------------------


async def test_explicit_beats_everything(providers, dirs) -> None:
    home_file(dirs[0], rows("home", 2))
    write_accounts(dirs[1], rows("local", 2))
    ctx = context(dirs, ENV, public_key="pk-explicit", secret_key="sk-explicit", account_index=1)
    creds = await resolve(providers, ctx)
    assert (creds.public_key, creds.secret_key, creds.source) == (
        "pk-explicit", "sk-explicit", "explicit",
    )


@pytest.mark.parametrize("kwargs", [{"public_key": "pk-only"}, {"secret_key": "sk-only"}])
async def test_one_explicit_key_alone_is_ignored(providers, dirs, kwargs) -> None:
    creds = await resolve(providers, context(dirs, ENV, **kwargs))
    assert creds.public_key == ENV_PK


async def test_account_index_skips_environment(providers, dirs) -> None:
    home_file(dirs[0], rows("home", 2))
    creds = await resolve(providers, context(dirs, ENV, account_index=1))
    assert creds.public_key == key("pk", "home", 1)
    assert creds.secret_key == key("sk", "home", 1)
    assert creds.source.startswith("account-index")


async def test_account_index_zero_is_explicit_too(providers, dirs) -> None:
    home_file(dirs[0], rows("home", 1))
    creds = await resolve(providers, context(dirs, ENV, account_index=0))
    assert creds.public_key == key("pk", "home", 0)


async def test_account_index_falls_back_to_local_file(providers, dirs) -> None:
    home_file(dirs[0], rows("home", 1))
    write_accounts(dirs[1], rows("local", 3))
    creds = await resolve(providers, context(dirs, ENV, account_index=2))
    assert creds.public_key == key("pk", "local", 2)


async def test_account_index_beats_unsandbox_account(providers, dirs) -> None:
    home_file(dirs[0], rows("home", 3))
    creds = await resolve(providers, context(dirs, {"UNSANDBOX_ACCOUNT": "2"}, account_index=1))
    assert creds.public_key == key("pk", "home", 1)


async def test_account_index_missing_row_names_both_files(providers, dirs) -> None:
    home_file(dirs[0], rows("home", 2))
    with pytest.raises(CredentialsError) as info:
        await resolve(providers, context(dirs, ENV, account_index=5))
    message = str(info.value)
    assert "account_index=5" in message
    assert str(dirs[0] / ".unsandbox" / "accounts.csv") in message
    assert "2 rows" in message
    assert str(dirs[1] / "accounts.csv") in message
    assert "file not found" in message
    assert ENV_SK not in message


async def test_negative_account_index(providers, dirs) -> None:
    with pytest.raises(CredentialsError, match="account_index"):
        await resolve(providers, context(dirs, ENV, account_index=-1))


async def test_environment_beats_files(providers, dirs) -> None:
    home_file(dirs[0], rows("home", 1))
    write_accounts(dirs[1], rows("local", 1))
    creds = await resolve(providers, context(dirs, ENV))
    assert (creds.public_key, creds.secret_key, creds.source) == (ENV_PK, ENV_SK, "environment")


async def test_environment_values_are_stripped(providers, dirs) -> None:
    environ = {"UNSANDBOX_PUBLIC_KEY": f"  {ENV_PK}\n", "UNSANDBOX_SECRET_KEY": f"{ENV_SK}\r\n"}
    creds = await resolve(providers, context(dirs, environ))
    assert (creds.public_key, creds.secret_key) == (ENV_PK, ENV_SK)


@pytest.mark.parametrize(
    "environ",
    [
        {"UNSANDBOX_PUBLIC_KEY": ENV_PK},
        {"UNSANDBOX_SECRET_KEY": ENV_SK},
        {"UNSANDBOX_PUBLIC_KEY": ENV_PK, "UNSANDBOX_SECRET_KEY": "   "},
    ],
)
async def test_incomplete_environment_falls_through(providers, dirs, environ) -> None:
    home_file(dirs[0], rows("home", 1))
    creds = await resolve(providers, context(dirs, environ))
    assert creds.public_key == key("pk", "home", 0)


async def test_home_file_default_row_zero(providers, dirs) -> None:
    home_file(dirs[0], rows("home", 3))
    creds = await resolve(providers, context(dirs))
    assert creds.public_key == key("pk", "home", 0)
    assert creds.source.startswith("home-accounts")


async def test_unsandbox_account_selects_row(providers, dirs) -> None:
    home_file(dirs[0], rows("home", 3))
    creds = await resolve(providers, context(dirs, {"UNSANDBOX_ACCOUNT": " 2 "}))
    assert creds.secret_key == key("sk", "home", 2)


async def test_home_before_local(providers, dirs) -> None:
    home_file(dirs[0], rows("home", 1))
    write_accounts(dirs[1], rows("local", 1))
    creds = await resolve(providers, context(dirs))
    assert creds.public_key == key("pk", "home", 0)


async def test_local_used_when_home_missing(providers, dirs) -> None:
    write_accounts(dirs[1], rows("local", 2))
    creds = await resolve(providers, context(dirs, {"UNSANDBOX_ACCOUNT": "1"}))
    assert creds.public_key == key("pk", "local", 1)
    assert creds.source.startswith("local-accounts")


async def test_local_used_when_home_lacks_the_row(providers, dirs) -> None:
    home_file(dirs[0], rows("home", 1))
    write_accounts(dirs[1], rows("local", 2))
    creds = await resolve(providers, context(dirs, {"UNSANDBOX_ACCOUNT": "1"}))
    assert creds.public_key == key("pk", "local", 1)


# --- UNSANDBOX_ACCOUNT validation ---------------------------------------------------------


@pytest.mark.parametrize("value", ["abc", "1.5", "-1", "0x1", "\u0661"])
async def test_invalid_unsandbox_account_is_credentials_error(providers, dirs, value) -> None:
    home_file(dirs[0], rows("home", 2))
    with pytest.raises(CredentialsError) as info:
        await resolve(providers, context(dirs, {"UNSANDBOX_ACCOUNT": value}))
    assert not isinstance(info.value, ValueError)
    assert "UNSANDBOX_ACCOUNT" in str(info.value)
    assert "invalid" in str(info.value)
    assert repr(value) in str(info.value)


async def test_invalid_unsandbox_account_irrelevant_when_env_keys_set(providers, dirs) -> None:
    environ = {**ENV, "UNSANDBOX_ACCOUNT": "nope"}
    assert (await resolve(providers, context(dirs, environ))).public_key == ENV_PK


async def test_empty_unsandbox_account_means_row_zero(providers, dirs) -> None:
    home_file(dirs[0], rows("home", 2))
    creds = await resolve(providers, context(dirs, {"UNSANDBOX_ACCOUNT": ""}))
    assert creds.public_key == key("pk", "home", 0)


# --- accounts.csv format ----------------------------------------------------------------


async def test_comments_and_blank_lines_are_not_rows(providers, dirs) -> None:
    text = (
        "# my accounts\n"
        "\n"
        "   \n"
        f"{key('pk', 'home', 0)},{key('sk', 'home', 0)}\n"
        "   # indented comment\n"
        f"{key('pk', 'home', 1)},{key('sk', 'home', 1)}\n"
    )
    home_file(dirs[0], text)
    first = await resolve(providers, context(dirs))
    second = await resolve(providers, context(dirs, {"UNSANDBOX_ACCOUNT": "1"}))
    assert first.public_key == key("pk", "home", 0)
    assert second.public_key == key("pk", "home", 1)


async def test_crlf_spaces_bom_and_extra_columns(providers, dirs) -> None:
    text = "\ufeff# header\r\n  pk-a , sk-a , work account \r\n\tpk-b,sk-b\r\n"
    home_file(dirs[0], text)
    first = await resolve(providers, context(dirs))
    second = await resolve(providers, context(dirs, {"UNSANDBOX_ACCOUNT": "1"}))
    assert (first.public_key, first.secret_key) == ("pk-a", "sk-a")
    assert (second.public_key, second.secret_key) == ("pk-b", "sk-b")


@pytest.mark.parametrize("line", ["justonefield", ",sk-secret-value", "pk-value,", "pk ,  "])
async def test_malformed_selected_row_is_an_error(providers, dirs, line) -> None:
    path = home_file(dirs[0], f"# comment\npk-a,sk-a\n{line}\n")
    with pytest.raises(CredentialsError) as info:
        await resolve(providers, context(dirs, ENV, account_index=1))
    message = str(info.value)
    assert str(path) in message
    assert "row 1" in message
    assert "line 3" in message
    assert "sk-secret-value" not in message


async def test_malformed_other_row_does_not_matter(providers, dirs) -> None:
    home_file(dirs[0], "garbage\npk-b,sk-b\n")
    creds = await resolve(providers, context(dirs, {"UNSANDBOX_ACCOUNT": "1"}))
    assert creds.public_key == "pk-b"


async def test_malformed_row_counts_as_a_row(providers, dirs) -> None:
    # A malformed target row is an error; it never shifts to the next line.
    home_file(dirs[0], "pk-a,sk-a\nbroken\npk-c,sk-c\n")
    with pytest.raises(CredentialsError, match="row 1"):
        await resolve(providers, context(dirs, {"UNSANDBOX_ACCOUNT": "1"}))


async def test_unreadable_accounts_file_is_an_error(providers, dirs) -> None:
    (dirs[0] / ".unsandbox" / "accounts.csv").mkdir(parents=True)  # a directory, not a file
    with pytest.raises(CredentialsError, match="cannot read"):
        await resolve(providers, context(dirs))


async def test_non_utf8_accounts_file_is_an_error(providers, dirs) -> None:
    path = dirs[0] / ".unsandbox" / "accounts.csv"
    path.parent.mkdir()
    path.write_bytes(b"pk\xff,sk\n")
    with pytest.raises(CredentialsError, match="UTF-8"):
        await resolve(providers, context(dirs))


# --- nothing found ----------------------------------------------------------------------


async def test_nothing_found_lists_every_source(providers, dirs) -> None:
    with pytest.raises(CredentialsError) as info:
        await resolve(providers, context(dirs))
    message = str(info.value)
    assert message.startswith("No credentials found. Tried: ")
    assert "explicit keys: not given" in message
    assert "account_index: not given" in message
    assert "UNSANDBOX_PUBLIC_KEY and UNSANDBOX_SECRET_KEY not set" in message
    assert f"{dirs[0] / '.unsandbox' / 'accounts.csv'}): file not found" in message
    assert f"{dirs[1] / 'accounts.csv'}): file not found" in message
    assert message.endswith(CONFIGURE_HINT)


async def test_missing_row_message_names_row_and_count(providers, dirs) -> None:
    home_file(dirs[0], rows("home", 1))
    write_accounts(dirs[1], rows("local", 2))
    environ = {"UNSANDBOX_ACCOUNT": "4", "UNSANDBOX_PUBLIC_KEY": ENV_PK}
    with pytest.raises(CredentialsError) as info:
        await resolve(providers, context(dirs, environ))
    message = str(info.value)
    assert "no account row 4 (1 row)" in message
    assert "no account row 4 (2 rows)" in message
    assert "UNSANDBOX_SECRET_KEY not set" in message
    assert ENV_PK not in message


async def test_half_explicit_keys_are_described(providers, dirs) -> None:
    with pytest.raises(CredentialsError, match="public_key given without secret_key"):
        await resolve(providers, context(dirs, public_key="pk-only"))


async def test_message_includes_configuration_hint(providers, dirs) -> None:
    with pytest.raises(CredentialsError, match="set UNSANDBOX_PUBLIC_KEY and UNSANDBOX_SECRET_KEY"):
        await resolve(providers, context(dirs))


async def test_empty_chain() -> None:
    with pytest.raises(CredentialsError, match="no credential providers"):
        await resolve_credentials([], CredentialContext(environ={}))


# --- permissions and secrecy --------------------------------------------------------------


@pytest.mark.skipif(os.name == "nt", reason="POSIX permission bits")
async def test_world_readable_file_warns_once(providers, dirs, caplog) -> None:
    path = home_file(dirs[0], rows("home", 1), mode=0o644)
    with caplog.at_level(logging.WARNING, logger="un_async"):
        await resolve(providers, context(dirs))
        await resolve(providers, context(dirs))
    warnings = [r for r in caplog.records if "readable by other users" in r.getMessage()]
    assert len(warnings) == 1
    assert warnings[0].levelno == logging.WARNING
    assert warnings[0].name == "un_async"
    assert "chmod 600" in warnings[0].getMessage()
    assert str(path) in warnings[0].getMessage()


@pytest.mark.skipif(os.name == "nt", reason="POSIX permission bits")
async def test_private_file_does_not_warn(providers, dirs, caplog) -> None:
    home_file(dirs[0], rows("home", 1), mode=0o600)
    with caplog.at_level(logging.DEBUG, logger="un_async"):
        await resolve(providers, context(dirs))
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


async def test_secret_never_in_repr_str_or_logs(providers, dirs, caplog) -> None:
    secret = key("sk", "home", 0)
    public = key("pk", "home", 0)
    home_file(dirs[0], rows("home", 1), mode=0o640)
    ctx = context(dirs, account_index=0)
    with caplog.at_level(logging.DEBUG):
        creds = await resolve(providers, ctx)
        with pytest.raises(CredentialsError) as info:
            await resolve(providers, context(dirs, account_index=3))
    texts = [repr(creds), str(creds), repr(ctx), str(info.value), caplog.text]
    texts += [repr(p) for p in providers] + [p.describe(ctx) for p in providers]
    for text in texts:
        assert secret not in text
        assert public not in text
    assert creds.secret_key == secret


async def test_explicit_secret_not_in_context_repr(dirs) -> None:
    ctx = context(dirs, public_key="unsb-pk-aaaa-bbbb-cccc", secret_key="unsb-sk-top-secret")
    assert "top-secret" not in repr(ctx)


def test_parsed_file_repr_hides_keys(dirs) -> None:
    path = home_file(dirs[0], rows("home", 2))
    parsed = read_accounts_file(path)
    assert parsed is not None
    assert len(parsed.rows) == 2
    assert "<2 rows>" in repr(parsed)
    assert "unsb-" not in repr(parsed)


def test_missing_file_reads_as_none(dirs) -> None:
    assert read_accounts_file(dirs[0] / "nope" / "accounts.csv") is None


@pytest.mark.parametrize("bad", ["pk\r\nX-Evil: 1", "pk\x00", "pk with space", "clé"])
def test_keys_with_control_or_non_ascii_characters_are_credentials_errors(bad: str) -> None:
    with pytest.raises(CredentialsError) as caught:
        Credentials(bad, "unsb-sk-fine")
    assert bad not in str(caught.value)
    with pytest.raises(CredentialsError):
        Credentials("unsb-pk-fine", bad)
