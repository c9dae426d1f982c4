"""The aiohttp transport: exact bytes out, the URL of every path, and the size bound."""

from __future__ import annotations

import pytest

from un_async.backends.unsandbox import transport as transport_module
from un_async.backends.unsandbox.transport import AiohttpTransport, HttpRequest
from un_async.testing import FakeUnsandbox


async def test_every_path_reaches_its_own_url_when_the_url_cache_starts_over(
    fake: FakeUnsandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(transport_module, "_URL_CACHE_SIZE", 2)
    transport = AiohttpTransport(fake.url)
    paths = [f"/jobs/job-{n % 5}" for n in range(12)]
    try:
        for path in paths:
            response = await transport.send(HttpRequest("GET", path, query=(("n", "1"),)))
            assert response.status == 401  # unsigned: what matters is where it went
    finally:
        await transport.aclose()
    assert [(r.path, dict(r.query)) for r in fake.requests] == [
        (path, {"n": "1"}) for path in paths
    ]
    assert len(transport._urls) <= 2


async def test_the_body_is_sent_as_given(fake: FakeUnsandbox) -> None:
    transport = AiohttpTransport(fake.url)
    body = '{"language":"python","code":"print(\\"hé\\")"}'.encode()
    try:
        await transport.send(HttpRequest(method="POST", path="/execute", body=body))
    finally:
        await transport.aclose()
    (request,) = fake.requests
    assert request.body == body
    assert request.headers["Content-Type"] == "application/json"


def test_requests_show_sizes_and_header_names_only() -> None:
    request = HttpRequest("POST", "/execute", b"secret-code", headers={"X-Signature": "sig-value"})
    text = repr(request)
    assert "secret-code" not in text
    assert "sig-value" not in text
    assert "X-Signature" in text
    assert "11 bytes" in text
