"""Secrets: secret keys, signatures and one-time codes never show in logs, reprs, error
messages or formatted tracebacks; exposed accounts.csv files and plain http:// to remote
hosts are refused or reported."""

from __future__ import annotations

import logging
import os
import traceback
from pathlib import Path

import pytest

from support import fast_config
from un_async import AsyncClient
from un_async.backends.unsandbox.transport import HttpRequest
from un_async.core.config import ClientConfig
from un_async.core.errors import ConfigurationError, UnsandboxError
from un_async.testing import FakeUnsandbox, Fault

PUBLIC = "unsb-pk-leak-test-0000-0001"
SECRET = "unsb-sk-NEVER-SHOW-ME-7f3a9c"
OTP = "918273"


def leaks(text: str, signatures: set[str]) -> list[str]:
    found = [secret for secret in (SECRET, OTP, SECRET[8:20]) if secret in text]
    found += [f"signature {s[:8]}…" for s in signatures if s in text]
    return found


def rendered(exc: BaseException) -> str:
    """Everything Python would print for ``exc``, chained causes included."""
    return "\n".join([str(exc), repr(exc), *traceback.format_exception(exc)])


async def full_session(fake: FakeUnsandbox, errors: list[BaseException]) -> list[object]:
    """Exercise retries, clock-skew correction, a 428, error replies and a timeout."""
    client = AsyncClient(
        config=fast_config(fake, wait_timeout=5.0), public_key=PUBLIC, secret_key=SECRET
    )
    objects: list[object] = [client, client.executor, client.config]
    objects += [getattr(client.executor, name) for name in ("transport", "requester")]
    async with client:
        objects.append(await client.credentials())
        fake.inject(Fault.status(503, method="GET", path="/jobs", times=2))
        fake.inject(Fault.reset_after_read(method="GET", path="/languages"))
        await client.get_languages()
        await client.execute_code("python", "print(1)", env={"TOKEN": SECRET[:4] + "x"})
        snapshot_id = await client.session_snapshot(fake.add_session())
        calls = [
            client.delete_snapshot(snapshot_id),
            client.delete_snapshot(snapshot_id, otp="000000"),
            client.get_job("no-such-job"),
            client.execute_code("klingon", "print(1)"),
            client.execute_code("python", "import time; time.sleep(60)", timeout=0.05),
        ]
        for call in calls:
            try:
                await call
            except UnsandboxError as exc:
                errors.append(exc)
        await client.delete_snapshot(snapshot_id, otp=OTP)
        fake.inject(Fault.status(401, {"error": "unauthorized", "message": "invalid key"}))
        try:
            await client.list_jobs()
        except UnsandboxError as exc:
            errors.append(exc)
    objects.append(
        HttpRequest(method="GET", path="/jobs", headers={"X-Signature": "sig-" + SECRET})
    )
    return objects


async def test_nothing_secret_in_logs_reprs_or_errors(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)  # every logger, aiohttp's included
    errors: list[BaseException] = []
    async with FakeUnsandbox(accounts={PUBLIC: SECRET}, clock_offset=900, sudo_otp=OTP) as fake:
        objects = await full_session(fake, errors)
    signatures = {r.headers["X-Signature"] for r in fake.requests if "X-Signature" in r.headers}
    assert len(signatures) > 5
    assert fake.response_statuses[401] >= 2  # clock skew, then the bad key
    assert fake.response_statuses[428] >= 1
    assert fake.response_statuses[503] == 2
    assert len(errors) == 6
    assert caplog.records, "the session should have logged something"
    assert leaks(caplog.text, signatures) == []
    for obj in objects:
        assert leaks(repr(obj), signatures) == [], type(obj).__name__
        assert leaks(str(obj), signatures) == [], type(obj).__name__
    for exc in errors:
        assert leaks(rendered(exc), signatures) == [], type(exc).__name__


def test_exposed_accounts_file_is_reported(
    isolated_environment: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from un_async.plugins.credentials import read_accounts_file

    caplog.set_level(logging.WARNING, logger="un_async")
    exposed = isolated_environment / "exposed.csv"
    private = isolated_environment / "private.csv"
    for path, mode in ((exposed, 0o644), (private, 0o600)):
        path.write_text(f"{PUBLIC},{SECRET}\n")
        os.chmod(path, mode)
    assert read_accounts_file(private) is not None
    assert caplog.records == []
    assert read_accounts_file(exposed) is not None
    [warning] = caplog.records
    assert str(exposed) in warning.getMessage()
    assert SECRET not in caplog.text


@pytest.mark.parametrize(
    "url", ["http://api.unsandbox.com", "http://10.0.0.5:8080", "http://[2001:db8::1]"]
)
def test_plain_http_to_remote_hosts_is_refused(url: str) -> None:
    with pytest.raises(ConfigurationError, match="http://"):
        ClientConfig(base_url=url)
    assert ClientConfig(base_url=url, allow_insecure_http=True).base_url == url


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080", "http://localhost", "http://[::1]:9"])
def test_plain_http_to_loopback_is_allowed(url: str) -> None:
    assert ClientConfig(base_url=url).base_url == url


def test_plain_http_from_the_environment_is_refused_too() -> None:
    with pytest.raises(ConfigurationError):
        AsyncClient(environ={"UNSANDBOX_API_URL": "http://example.com"})
