"""HTTP-level replay verifies each request with the plugin host's signer, not a fixed HMAC."""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from support import CREDENTIALS, fast_config
from un_async import AsyncClient
from un_async.backends.replay import CassetteTransport, SignatureMismatchError
from un_async.backends.unsandbox import AiohttpTransport, UnsandboxBackend
from un_async.core.credentials import Credentials
from un_async.core.hookspecs import hookimpl
from un_async.core.plugin_host import PluginHost, default_host
from un_async.testing import FakeUnsandbox

CODE = 'print("signed by a plugin")'


class Sha512Signer:
    """A third-party signing scheme: HMAC-SHA512 in ``X-Signature``."""

    def sign(
        self, credentials: Credentials, *, timestamp: int, method: str, path: str, body: bytes
    ) -> Mapping[str, str]:
        message = f"{timestamp}:{method.upper()}:{path}:".encode() + body
        mac = hmac.new(credentials.secret_key.encode(), message, "sha512").hexdigest()
        return {
            "Authorization": f"Bearer {credentials.public_key}",
            "X-Timestamp": str(timestamp),
            "X-Signature": mac,
        }


class TamperedSha512Signer(Sha512Signer):
    """The same scheme with the signature's last digit changed after signing."""

    def sign(self, credentials: Credentials, **request: Any) -> Mapping[str, str]:
        headers = dict(super().sign(credentials, **request))
        last = headers["X-Signature"][-1]
        headers["X-Signature"] = headers["X-Signature"][:-1] + ("0" if last != "0" else "1")
        return headers


class SignerPlugin:
    def __init__(self, signer: Sha512Signer) -> None:
        self.signer = signer

    @hookimpl
    def get_signer(self, backend: str) -> Sha512Signer:
        return self.signer


def host_with(signer: Sha512Signer) -> PluginHost:
    return PluginHost(load_entry_points=False, plugins=[SignerPlugin(signer)])


@pytest.fixture
async def recorded(fake: FakeUnsandbox, tmp_path: Path) -> Path:
    """One execution recorded at the HTTP level (signed with the built-in signer)."""
    path = tmp_path / "plugin.http.json"
    config = fast_config(fake, shared_polling=False)
    transport = CassetteTransport(path, mode="all", inner=AiohttpTransport(fake.url))
    backend = UnsandboxBackend(config, default_host(), transport=transport)
    async with AsyncClient(
        config=config,
        backend=backend,
        public_key=CREDENTIALS.public_key,
        secret_key=CREDENTIALS.secret_key,
    ) as client:
        await client.execute_code("python", CODE)
    return path


def replay_client(path: Path, *, signs_with: PluginHost, verifies_with: PluginHost) -> AsyncClient:
    config = fast_config(shared_polling=False)
    transport = CassetteTransport(path, credentials=CREDENTIALS, host=verifies_with)
    backend = UnsandboxBackend(config, signs_with, transport=transport)
    return AsyncClient(
        config=config,
        backend=backend,
        public_key=CREDENTIALS.public_key,
        secret_key=CREDENTIALS.secret_key,
    )


async def test_requests_signed_by_the_hosts_plugin_signer_replay(recorded: Path) -> None:
    host = host_with(Sha512Signer())
    async with replay_client(recorded, signs_with=host, verifies_with=host) as client:
        result = await client.execute_code("python", CODE)
    assert result.stdout == "signed by a plugin\n"


async def test_a_tampered_plugin_signature_is_rejected(recorded: Path) -> None:
    tampered, verifier = host_with(TamperedSha512Signer()), host_with(Sha512Signer())
    async with replay_client(recorded, signs_with=tampered, verifies_with=verifier) as client:
        with pytest.raises(SignatureMismatchError) as caught:
            await client.execute_code("python", CODE)
    assert caught.value.reason == "signature"
    assert "X-Signature" in str(caught.value)
    assert "Sha512Signer" in str(caught.value)
    assert CREDENTIALS.secret_key not in str(caught.value)


async def test_the_built_in_hmac_does_not_satisfy_a_host_with_another_signer(
    recorded: Path,
) -> None:
    verifier = host_with(Sha512Signer())
    async with replay_client(recorded, signs_with=default_host(), verifies_with=verifier) as c:
        with pytest.raises(SignatureMismatchError) as caught:
            await c.execute_code("python", CODE)
    assert caught.value.reason == "signature"
