"""HTTP-level record and replay: a :class:`Transport` for the unsandbox backend.

Inject it with ``UnsandboxBackend(config, host, transport=CassetteTransport(...))``;
nothing in aiohttp is patched. Recording forwards each request to an inner transport and
stores the normalised exchange. Replaying first re-verifies the request's signature with
the plugin host's signer for the backend (``host.signer("unsandbox")``: the built-in
HMAC-SHA256 one unless a plugin provides another): the request must carry exactly the
headers that signer produces for the replay credentials, the timestamp in its
``X-Timestamp`` header and the exact bytes being sent — so every replayed test also tests
the signer and the exact-bytes rule. Then it returns the recorded response. Signing
timestamps are never compared with the recording: replay works at any date.
"""

from __future__ import annotations

import hmac
import os
import time
from asyncio import sleep
from typing import TYPE_CHECKING, Any

from un_async.backends.replay.cassette import Interaction
from un_async.backends.replay.errors import CassetteFormatError, SignatureMismatchError
from un_async.backends.replay.matching import decode_body, encode_body, header, http_request
from un_async.backends.replay.modes import Latency, RecordMode
from un_async.backends.replay.recorder import CassetteRecorder
from un_async.backends.replay.redaction import SecretSet
from un_async.backends.replay.session import CassetteSession
from un_async.backends.unsandbox.transport import HttpRequest, HttpResponse, Transport
from un_async.core.credentials import Credentials
from un_async.core.errors import ConfigurationError, TransportError

if TYPE_CHECKING:
    from un_async.core.hookspecs import Signer
    from un_async.core.plugin_host import PluginHost

__all__ = ["SIGNED_BACKEND", "CassetteTransport", "verify_signature"]

SIGNED_BACKEND = "unsandbox"
"""The backend whose signer verifies replayed requests (the one this transport serves)."""


def verify_signature(
    request: HttpRequest, credentials: Credentials, signer: Signer | None = None
) -> None:
    """Raise :class:`SignatureMismatchError` unless ``request`` carries exactly the headers
    ``signer`` (default: the default plugin host's signer for the unsandbox backend)
    produces for ``credentials``, its ``X-Timestamp`` and its exact body bytes.

    ``reason`` is ``timestamp`` (missing or not whole seconds), ``authorization`` (the
    ``Authorization`` header differs: other keys) or ``signature`` (any other signed
    header differs). Messages name headers and sizes, never their values.
    """
    where = f"{request.method} {request.path}"
    stamp = header(request.headers, "X-Timestamp")
    if stamp is None or not stamp.isascii() or not stamp.isdigit():
        raise SignatureMismatchError(
            f"{where}: X-Timestamp is missing or not whole seconds", reason="timestamp"
        )
    if signer is None:
        from un_async.core.plugin_host import default_host

        signer = default_host().signer(SIGNED_BACKEND)
    expected = signer.sign(
        credentials,
        timestamp=int(stamp),
        method=request.method,
        path=request.path,
        body=request.body,
    )
    wrong = [
        name
        for name, value in expected.items()
        if not hmac.compare_digest(
            (header(request.headers, name) or "").encode(), str(value).encode()
        )
    ]
    if not wrong:
        return
    if any(name.lower() == "authorization" for name in wrong):
        raise SignatureMismatchError(
            f"{where}: Authorization does not carry the replay public key",
            reason="authorization",
        )
    raise SignatureMismatchError(
        f"{where}: {', '.join(sorted(wrong))} differs from what the host's signer "
        f"({type(signer).__name__}) computes over '<timestamp>:{request.method.upper()}:"
        f"{request.path}:<{len(request.body)} body bytes>' with the replay credentials",
        reason="signature",
    )


class CassetteTransport(CassetteRecorder[Transport | None]):
    """Records through ``inner`` and/or replays from a cassette, per the record mode.

    ``cassette`` is a :class:`CassetteSession` or a file path (opened in ``mode``).
    ``credentials`` are the replay credentials every replayed request must be signed
    with (required when anything is replayed); ``host`` is the plugin host whose signer
    verifies them (default: :func:`~un_async.core.plugin_host.default_host`; pass the host
    the backend signs with); ``inner`` is the real transport (required when anything is
    recorded). The cassette is saved by :meth:`aclose` unless ``save_on_close=False``.
    """

    def __init__(
        self,
        cassette: CassetteSession | str | os.PathLike[str],
        *,
        mode: RecordMode | str = RecordMode.NONE,
        inner: Transport | None = None,
        credentials: Credentials | None = None,
        host: PluginHost | None = None,
        latency: str | float | Latency = "none",
        save_on_close: bool = True,
        secrets: SecretSet | None = None,
    ) -> None:
        if isinstance(cassette, CassetteSession):
            session = cassette
        else:
            session = CassetteSession(level="http", mode=mode, path=cassette, secrets=secrets)
        if session.recording and inner is None:
            raise ConfigurationError(f"{session!r} records, so it needs an inner transport")
        if session.replaying and credentials is None:
            raise ConfigurationError(
                f"{session!r} replays, so it needs the replay credentials to verify signatures"
            )
        self.session = session
        self.inner = inner
        self.credentials = credentials
        self._host = host
        self._signer: Signer | None = None
        self.latency = Latency.parse(latency)
        self.save_on_close = save_on_close
        if credentials is not None:
            session.secrets.add_credentials(credentials)
        self._closed = False

    def __repr__(self) -> str:
        return f"CassetteTransport({self.session.source!r}, mode={self.session.mode.value!r})"

    @property
    def signer(self) -> Signer:
        """The host's signer for the unsandbox backend (looked up on first use)."""
        if self._signer is None:
            host = self._host
            if host is None:
                from un_async.core.plugin_host import default_host

                host = default_host()
            self._signer = host.signer(SIGNED_BACKEND)
        return self._signer

    async def send(self, request: HttpRequest) -> HttpResponse:
        normalised = http_request(request)
        self._learn_secrets(request)
        if self.session.replaying:
            interaction = self.session.take(normalised)
            if interaction is not None:
                assert self.credentials is not None
                verify_signature(request, self.credentials, self.signer)
                return await self._replay(interaction)
            if not self.session.recording:
                raise self.session.miss(normalised)
        return await self._record(request, normalised)

    def note_credentials(self, credentials: Credentials) -> None:
        """Remember both keys of ``credentials`` as secrets to redact.

        The unsandbox backend's requester calls this optional hook (its name is
        ``un_async.backends.unsandbox.requester.NOTE_CREDENTIALS``) before the first request
        it signs with ``credentials``, so the secret key, which never appears in a request,
        is redacted too.
        """
        self.session.secrets.add_credentials(credentials)

    def _learn_secrets(self, request: HttpRequest) -> None:
        # Requests sent by other callers than the requester still teach the public key
        # and the signatures; only note_credentials() can teach the secret key.
        bearer = header(request.headers, "Authorization") or ""
        if bearer.startswith("Bearer "):
            self.session.secrets.add("UNSANDBOX_PUBLIC_KEY", bearer.removeprefix("Bearer "))
        self.session.secrets.add_signature(header(request.headers, "X-Signature"))

    async def _replay(self, interaction: Interaction) -> HttpResponse:
        delay = self.latency.delay(float(interaction.timing.get("elapsed", 0.0)))
        if delay:
            await sleep(delay)
        response = interaction.response
        error = response.get("error")
        if isinstance(error, dict):
            raise TransportError(
                str(error.get("message", "recorded transport failure")),
                request_sent=bool(error.get("request_sent", True)),
            )
        status = response.get("status")
        if not isinstance(status, int):
            raise CassetteFormatError(f"{self.session.source}: a response has no HTTP status")
        headers = response.get("headers") or {}
        return HttpResponse(
            status=status,
            headers={str(k): str(v) for k, v in headers.items()},
            body=decode_body(response.get("body")),
        )

    async def _record(self, request: HttpRequest, normalised: dict[str, Any]) -> HttpResponse:
        assert self.inner is not None
        started = time.perf_counter()
        try:
            response = await self.inner.send(request)
        except TransportError as exc:
            self.session.add(
                Interaction(
                    request=normalised,
                    response={
                        "error": {
                            "type": "TransportError",
                            "message": str(exc),
                            "request_sent": exc.request_sent,
                        }
                    },
                    timing={"elapsed": round(time.perf_counter() - started, 6)},
                )
            )
            raise
        headers = {str(k): str(v) for k, v in response.headers.items()}
        stored: dict[str, Any] = {"status": response.status, "headers": headers}
        body = encode_body(response.body, header(headers, "content-type"))
        if body is not None:
            stored["body"] = body
        self.session.add(
            Interaction(
                request=normalised,
                response=stored,
                timing={"elapsed": round(time.perf_counter() - started, 6)},
            )
        )
        return response
