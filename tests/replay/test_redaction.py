"""Secrets never reach a cassette: allow-listed headers, placeholders, and a final scan."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from urllib.parse import quote

import pytest

from un_async import AsyncClient, ClientConfig
from un_async.backends.replay import (
    CassetteTransport,
    RecordingExecutor,
    Redactor,
    ReplayExecutor,
    SecretLeakError,
    SecretSet,
)
from un_async.backends.unsandbox import AiohttpTransport, UnsandboxBackend
from un_async.backends.unsandbox.requester import NOTE_CREDENTIALS
from un_async.core.credentials import Credentials
from un_async.core.plugin_host import default_host
from un_async.testing import FakeUnsandbox

# Real-looking keys in the documented shapes (spec §2.1), unknown to every other test.
PUBLIC = "unsb-pk-7f3a-91bc-d2e4-5a6b"
SECRET = "unsb-sk-q8r7w-x2c4v-m9n1b-k5j3h"
EXTRA = "ghp_very-private-token-0123456789"


def test_placeholders_replace_secrets_in_any_string_and_key() -> None:
    secrets = SecretSet([("UNSANDBOX_SECRET_KEY", SECRET), ("UNSANDBOX_PUBLIC_KEY", PUBLIC)])
    scrubbed = Redactor(secrets).scrub(
        {"path": f"/keys/{PUBLIC}", SECRET: [f"x{SECRET}y", 7, None], "n": 1}
    )
    assert scrubbed == {
        "path": "/keys/<UNSANDBOX_PUBLIC_KEY>",
        "<UNSANDBOX_SECRET_KEY>": ["x<UNSANDBOX_SECRET_KEY>y", 7, None],
        "n": 1,
    }


def test_short_and_setting_values_are_not_treated_as_secrets() -> None:
    secrets = SecretSet.from_environ(
        {
            "UNSANDBOX_ACCOUNT": "1",
            "UNSANDBOX_API_URL": "http://127.0.0.1:8080",
            "UNSANDBOX_PIN": "1234",
            "UNSANDBOX_TOKEN": EXTRA,
            "HOME": "/home/someone-long-enough",
        }
    )
    assert [label for _, label in secrets.pairs()] == ["UNSANDBOX_TOKEN"]


def test_a_second_value_under_one_label_gets_a_numbered_placeholder() -> None:
    secrets = SecretSet()
    secrets.add_credentials(Credentials(PUBLIC, SECRET))
    secrets.add_credentials(Credentials(PUBLIC + "-2", SECRET + "-2"))
    text = Redactor(secrets).scrub(f"{SECRET} {SECRET}-2")
    assert text == "<UNSANDBOX_SECRET_KEY> <UNSANDBOX_SECRET_KEY_2>"


def test_headers_are_reduced_to_the_allow_lists() -> None:
    document = {
        "interactions": [
            {
                "request": {
                    "headers": {
                        "Authorization": "Bearer x",
                        "X-Signature": "ab",
                        "X-Timestamp": "1",
                        "User-Agent": "me",
                        "X-Sudo-OTP": "123456",
                        "Content-Type": "application/json",
                    }
                },
                "response": {
                    "headers": {"Set-Cookie": "s=1", "Retry-After": "2", "Server": "x"},
                    "status": 429,
                },
            }
        ]
    }
    redacted = Redactor(SecretSet()).redact_document(document)
    interaction = redacted["interactions"][0]
    assert interaction["request"]["headers"] == {"Content-Type": "application/json"}
    assert interaction["response"]["headers"] == {"Retry-After": "2"}


@pytest.mark.parametrize(
    ("text", "found"),
    [
        (f"plain {SECRET}", "UNSANDBOX_SECRET_KEY"),
        (json.dumps({"a": 'q"uote' + SECRET}), "UNSANDBOX_SECRET_KEY"),
        (quote(f"/x?k={SECRET}&", safe=""), "UNSANDBOX_SECRET_KEY"),
        *(
            (base64.b64encode(prefix + SECRET.encode() + b"tail").decode(), "(base64)")
            for prefix in (b"", b"a", b"ab", b"abc")
        ),
        (base64.urlsafe_b64encode(b"zz" + SECRET.encode()).decode(), "(base64)"),
    ],
)
def test_the_scan_finds_secrets_in_every_encoding(text: str, found: str) -> None:
    redactor = Redactor(SecretSet([("UNSANDBOX_SECRET_KEY", SECRET)]))
    leaks = redactor.leaks(text)
    assert len(leaks) == 1
    assert found in leaks[0]


def test_signatures_are_replaced_and_scanned_as_hex_tokens() -> None:
    signature = "ab" * 32
    secrets = SecretSet()
    secrets.add_signature(signature.upper())
    redactor = Redactor(secrets)
    assert redactor.scrub({"echo": f"sig={signature};", "other": "cd" * 32}) == {
        "echo": "sig=<X-Signature>;",
        "other": "cd" * 32,
    }
    assert redactor.leaks(f"[{signature}]") == ["X-Signature"]
    assert redactor.leaks(f"0{signature}") == []  # part of a longer hex run: another value


def test_placeholders_never_trip_the_scan() -> None:
    redactor = Redactor(SecretSet([("UNSANDBOX_SECRET_KEY", SECRET)]))
    text, leaks = redactor.render({"interactions": [], "note": f"key={SECRET}"})
    assert leaks == []
    assert SECRET not in text
    assert "<UNSANDBOX_SECRET_KEY>" in text


@pytest.fixture
def secret_fake(fake: FakeUnsandbox, monkeypatch: pytest.MonkeyPatch) -> FakeUnsandbox:
    """The fake accepting the real-looking keys, which are also in the environment."""
    fake.add_account(PUBLIC, SECRET)
    monkeypatch.setenv("UNSANDBOX_PUBLIC_KEY", PUBLIC)
    monkeypatch.setenv("UNSANDBOX_SECRET_KEY", SECRET)
    monkeypatch.setenv("UNSANDBOX_EXTRA_TOKEN", EXTRA)
    return fake


def names_in(folder: Path, pattern: str) -> list[str]:
    return sorted(path.name for path in folder.glob(pattern))


def assert_no_secret_in(path: Path) -> str:
    text = path.read_text(encoding="utf-8")
    for secret in (PUBLIC, SECRET, EXTRA):
        assert secret not in text
        assert base64.b64encode(secret.encode()).decode()[:12] not in text
    return text


def recording_over_http(fake: FakeUnsandbox, path: Path) -> AsyncClient:
    """A client whose HTTP exchanges with ``fake`` are recorded to ``path`` (mode ``all``)."""
    config = ClientConfig(base_url=fake.url, languages_cache_path=False)
    transport = CassetteTransport(path, mode="all", inner=AiohttpTransport(fake.url))
    backend = UnsandboxBackend(config, default_host(), transport=transport)
    return AsyncClient(config=config, backend=backend)


async def test_an_execution_recording_with_secrets_everywhere_keeps_none(
    secret_fake: FakeUnsandbox, tmp_path: Path
) -> None:
    path = tmp_path / "secrets.json"
    code = f'print("{SECRET}")\nprint("{EXTRA}")'
    config = ClientConfig(base_url=secret_fake.url, languages_cache_path=False)
    backend = RecordingExecutor(UnsandboxBackend(config, default_host()), path)
    async with AsyncClient(config=config, backend=backend) as client:
        result = await client.execute_code("python", code, env={"TOKEN": PUBLIC})
        assert result.stdout == f"{SECRET}\n{EXTRA}\n"

    text = assert_no_secret_in(path)
    assert "<UNSANDBOX_SECRET_KEY>" in text
    assert "<UNSANDBOX_EXTRA_TOKEN>" in text
    assert '"TOKEN": "<UNSANDBOX_PUBLIC_KEY>"' in text

    # The same program, replayed with the same secrets known, matches the placeholders.
    async with AsyncClient(
        config=ClientConfig(languages_cache_path=False), backend=ReplayExecutor(path)
    ) as client:
        replayed = await client.execute_code("python", code, env={"TOKEN": PUBLIC})
    assert replayed.stdout == "<UNSANDBOX_SECRET_KEY>\n<UNSANDBOX_EXTRA_TOKEN>\n"


async def test_an_http_recording_keeps_no_keys_signatures_or_auth_headers(
    secret_fake: FakeUnsandbox, tmp_path: Path
) -> None:
    path = tmp_path / "secrets.http.json"
    async with recording_over_http(secret_fake, path) as client:
        await client.execute_code("python", f'print("{SECRET}")')
        signatures = [r.headers["X-Signature"] for r in secret_fake.requests]

    text = assert_no_secret_in(path)
    assert signatures
    assert not any(signature in text for signature in signatures)
    for header in ("Authorization", "X-Signature", "X-Timestamp", "User-Agent"):
        assert header not in text


async def test_a_secret_only_visible_as_base64_refuses_the_save(
    secret_fake: FakeUnsandbox, tmp_path: Path
) -> None:
    path = tmp_path / "refused.json"
    client = recording_over_http(secret_fake, path)
    # Input files travel base64-encoded, where no placeholder can replace the key.
    await client.execute_code("python", "print(1)", input_files={"key.txt": f"k={SECRET}"})

    with pytest.raises(SecretLeakError, match=r"UNSANDBOX_SECRET_KEY \(base64\)") as caught:
        await client.aclose()

    assert SECRET not in str(caught.value)
    assert caught.value.labels == ("UNSANDBOX_SECRET_KEY (base64)",)
    assert names_in(tmp_path, "*refused*") == []


async def test_keys_from_accounts_csv_are_redacted_from_an_http_recording(
    fake: FakeUnsandbox, isolated_environment: Path, tmp_path: Path
) -> None:
    """The keys come from ``~/.unsandbox/accounts.csv``, not the environment, so only the
    requester can tell the transport the secret key (it is never sent)."""
    fake.add_account(PUBLIC, SECRET)
    accounts = isolated_environment / ".unsandbox" / "accounts.csv"
    accounts.parent.mkdir()
    accounts.write_text(f"{PUBLIC},{SECRET}\n")
    accounts.chmod(0o600)
    path = tmp_path / "accounts.http.json"
    code = f'print("{SECRET}")'

    async with recording_over_http(fake, path) as client:
        result = await client.execute_code("python", code, env={"KEY": SECRET})
        assert result.stdout == f"{SECRET}\n"
    assert fake.requests[0].headers["Authorization"] == f"Bearer {PUBLIC}"

    text = assert_no_secret_in(path)
    (exchange,) = json.loads(text)["interactions"]
    request = exchange["request"]["body"]["json"]
    assert request["code"] == 'print("<UNSANDBOX_SECRET_KEY>")'
    assert request["env"] == {"KEY": "<UNSANDBOX_SECRET_KEY>"}
    assert exchange["response"]["body"]["json"]["stdout"] == "<UNSANDBOX_SECRET_KEY>\n"

    # Replaying with the same account matches: the live request is scrubbed alike.
    replay = CassetteTransport(path, credentials=Credentials(PUBLIC, SECRET))
    config = ClientConfig(base_url=fake.url, languages_cache_path=False)
    backend = UnsandboxBackend(config, default_host(), transport=replay)
    requests_seen = fake.request_count
    async with AsyncClient(config=config, backend=backend) as client:
        replayed = await client.execute_code("python", code, env={"KEY": SECRET})
    assert replayed.stdout == "<UNSANDBOX_SECRET_KEY>\n"
    assert fake.request_count == requests_seen


def test_the_cassette_transport_implements_the_requesters_credentials_hook() -> None:
    assert callable(getattr(CassetteTransport, NOTE_CREDENTIALS))
