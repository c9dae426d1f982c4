"""HTTP transport: one lazily created aiohttp session, bytes in, bytes out.

The transport knows nothing about signing, JSON or retries. It sends exactly the bytes
it is given and maps every aiohttp failure to :class:`TransportError`, recording whether
the request can have reached the server (``request_sent``). Alternative transports (such
as the cassette transport used for record/replay) implement :class:`Transport`.
"""

from __future__ import annotations

import platform
import ssl
from collections.abc import Mapping
from typing import Protocol

import aiohttp
import attrs
from yarl import URL

from un_async._version import __version__
from un_async.core.errors import ClientClosedError
from un_async.core.service_errors import TransportError

__all__ = ["AiohttpTransport", "HttpRequest", "HttpResponse", "Transport", "default_user_agent"]

_URL_CACHE_SIZE = 512
"""URLs kept per transport (about 1 KB each with what yarl caches on them); when full,
the cache starts over."""


def default_user_agent() -> str:
    """``un-async/<version> python/<x.y> aiohttp/<version>``."""
    return (
        f"un-async/{__version__} python/{platform.python_version()} aiohttp/{aiohttp.__version__}"
    )


@attrs.define
class HttpRequest:
    """One HTTP request. ``path`` is already percent-encoded and is what gets signed.

    ``query`` is appended to the URL (and not signed, spec §2.2). ``timeout`` overrides
    the transport's read timeout for this request. The ``repr`` shows the body's size and
    the header names only (no signature, no code or env values). Treat it as immutable:
    it is not frozen, and takes positional arguments, only because that halves what
    building one costs (once per attempt).
    """

    method: str
    path: str
    body: bytes = attrs.field(default=b"", repr=lambda body: f"<{len(body)} bytes>")
    query: tuple[tuple[str, str], ...] = ()
    headers: Mapping[str, str] = attrs.field(factory=dict, repr=lambda h: f"<{', '.join(h)}>")
    timeout: float | None = None


@attrs.define
class HttpResponse:
    """A complete HTTP response with its body read (treat it as immutable)."""

    status: int
    headers: Mapping[str, str]
    body: bytes


class Transport(Protocol):
    """Sends requests to the service."""

    async def send(self, request: HttpRequest) -> HttpResponse:
        """Send ``request``; raise :class:`TransportError` if no response is obtained."""
        ...

    async def aclose(self) -> None:
        """Release resources; idempotent."""
        ...


class AiohttpTransport:
    """A :class:`Transport` over one :class:`aiohttp.ClientSession`.

    The session is created on first use inside the running event loop and closed by
    :meth:`aclose`. ``ssl_context`` lets tests trust a local certificate.
    """

    def __init__(
        self,
        base_url: str,
        *,
        connect_timeout: float = 10.0,
        read_timeout: float = 120.0,
        max_response_bytes: int = 128 * 1024 * 1024,
        connection_limit: int = 256,
        user_agent: str | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self._base = base_url.rstrip("/")
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        self._max_bytes = max_response_bytes
        self._limit = connection_limit
        self._user_agent = user_agent or default_user_agent()
        self._ssl: ssl.SSLContext | bool = ssl_context if ssl_context is not None else True
        self._session: aiohttp.ClientSession | None = None
        self._timeouts: dict[float | None, aiohttp.ClientTimeout] = {}
        self._urls: dict[str, URL] = {}
        self._closed = False

    def __repr__(self) -> str:
        return f"AiohttpTransport({self._base!r})"

    def _get_session(self) -> aiohttp.ClientSession:
        if self._closed:
            raise ClientClosedError("the client is closed")
        session = self._session
        if session is None or session.closed:
            connector = aiohttp.TCPConnector(
                limit=self._limit, ssl=self._ssl, enable_cleanup_closed=False
            )
            session = aiohttp.ClientSession(
                connector=connector,
                headers={"User-Agent": self._user_agent, "Content-Type": "application/json"},
            )
            self._session = session
        return session

    def _timeout(self, read_timeout: float | None) -> aiohttp.ClientTimeout:
        timeout = self._timeouts.get(read_timeout)
        if timeout is None:
            # One timer per request: ``total`` instead of a read timer re-armed on every
            # chunk, and ``sock_connect`` (armed only when a new socket is opened) instead
            # of ``connect``, which would also time every reuse of a pooled connection.
            timeout = aiohttp.ClientTimeout(
                total=read_timeout or self._read_timeout, sock_connect=self._connect_timeout
            )
            self._timeouts[read_timeout] = timeout
        return timeout

    def _url(self, path: str) -> URL:
        """The URL of ``path``, kept for reuse: a job is polled several times, and yarl
        caches what aiohttp derives from a URL (host, origin, ...) on the object."""
        if len(self._urls) >= _URL_CACHE_SIZE:
            self._urls.clear()
        url = self._urls[path] = URL(self._base + path, encoded=True)
        return url

    async def send(self, request: HttpRequest) -> HttpResponse:
        session = self._session
        if session is None or session.closed or self._closed:
            session = self._get_session()
        url = self._urls.get(request.path)
        if url is None:
            url = self._url(request.path)
        if request.query:
            url = url.with_query(request.query)
        try:
            async with session.request(
                request.method,
                url,
                data=request.body or None,
                headers=request.headers,
                timeout=self._timeouts.get(request.timeout) or self._timeout(request.timeout),
                allow_redirects=False,
            ) as response:
                declared = response.content_length
                if declared is not None and declared <= self._max_bytes:
                    body = await response.read()  # the usual case, without another coroutine
                else:
                    body = await self._read_unbounded(response, declared)
                return HttpResponse(response.status, response.headers, body)
        except TransportError:
            raise
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            error = self._translate(exc, request.timeout or self._read_timeout)
        # Raised outside the handler on purpose: aiohttp's exceptions carry the request
        # (signature and public key included) in their repr, so none is chained.
        raise error

    def _translate(self, exc: BaseException, read_timeout: float) -> TransportError:
        """The :class:`TransportError` for an aiohttp/socket failure (message only)."""
        kind = type(exc).__name__
        if isinstance(exc, aiohttp.ClientConnectorError):
            reason = exc.os_error.strerror or kind
            return TransportError(f"cannot connect to {self._base}: {reason}", request_sent=False)
        if isinstance(exc, aiohttp.ConnectionTimeoutError):
            return TransportError(
                f"no connection to {self._base} within {self._connect_timeout:g} s",
                request_sent=False,
            )
        if isinstance(exc, aiohttp.ServerDisconnectedError):
            return TransportError("server closed the connection without answering")
        if isinstance(exc, aiohttp.ClientResponseError):
            return TransportError(f"malformed response ({kind}: {exc.message})")
        if isinstance(exc, aiohttp.ClientPayloadError):
            return TransportError(f"malformed or truncated response ({kind}: {exc})")
        if isinstance(exc, TimeoutError):
            return TransportError(f"no response within {read_timeout:g} s")
        return TransportError(f"connection failed ({kind}: {exc})")

    async def _read_unbounded(
        self, response: aiohttp.ClientResponse, declared: int | None
    ) -> bytes:
        """Read a body without a usable Content-Length, up to the size limit."""
        if declared is not None:
            raise TransportError(
                f"response of {declared} bytes exceeds the {self._max_bytes}-byte limit"
            )
        chunks = bytearray()
        async for chunk in response.content.iter_chunked(1 << 16):
            chunks += chunk
            if len(chunks) > self._max_bytes:
                raise TransportError(f"response exceeds the {self._max_bytes}-byte limit")
        return bytes(chunks)

    async def aclose(self) -> None:
        self._closed = True
        session, self._session = self._session, None
        if session is not None and not session.closed:
            await session.close()
