"""Transport errors do not chain aiohttp's exceptions, whose reprs carry the request.

aiohttp's ``ClientResponseError`` keeps the request (``Authorization`` and
``X-Signature`` included) and shows it in its repr, so the SDK raises its own error with
a message only: no ``__cause__``/``__context__`` that could leak through a traceback or
an error reporter.
"""

from __future__ import annotations

import asyncio
import traceback
from collections.abc import AsyncIterator

import pytest

from support import FAST_RETRY, KEYS
from un_async import AsyncClient, TransportError
from un_async.testing import TEST_PUBLIC_KEY, TEST_SECRET_KEY


@pytest.fixture
async def garbage_server() -> AsyncIterator[str]:
    """A loopback server answering every request with an invalid HTTP status line."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 2x0 What\r\nContent-Length: 0\r\n\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        yield f"http://127.0.0.1:{port}"


def _chain(error: BaseException) -> list[BaseException]:
    links: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and current not in links:
        links.append(current)
        current = current.__cause__ or current.__context__
    return links


async def test_malformed_reply_error_has_no_chained_request(garbage_server: str) -> None:
    async with AsyncClient(base_url=garbage_server, retry=FAST_RETRY, **KEYS) as client:
        with pytest.raises(TransportError, match="malformed response") as caught:
            await client.list_jobs()
    error = caught.value
    assert error.__cause__ is None
    assert error.__context__ is None
    rendered = "".join(traceback.format_exception(error))
    for link in _chain(error):
        rendered += repr(link) + str(link)
    assert TEST_PUBLIC_KEY not in rendered
    assert TEST_SECRET_KEY not in rendered
    assert "X-Signature" not in rendered
    assert "Authorization" not in rendered
