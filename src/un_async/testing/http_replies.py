"""The fake server's HTTP replies: JSON bodies and the API's error shape
``{"error": <slug>, "message": <text>, ...}`` (spec §5.2)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from aiohttp import web

__all__ = [
    "HTTPError",
    "abort",
    "bad_request",
    "conflict",
    "exception_response",
    "json_response",
    "not_found",
]

_SLUGS = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large"}


class HTTPError(Exception):
    """Raised by handlers; answered as ``{"error", "message", **extra}`` with ``status``."""

    def __init__(
        self,
        status: int,
        error: str,
        message: str,
        headers: Mapping[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.body = {"error": error, "message": message, **extra}
        self.headers = dict(headers or {})

    def response(self) -> web.Response:
        """The JSON reply for this error."""
        return json_response(self.body, self.status, self.headers)


def json_response(
    data: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> web.Response:
    """``data`` serialised as an ``application/json`` reply."""
    return web.Response(
        body=json.dumps(data).encode(),
        status=status,
        content_type="application/json",
        headers=headers,
    )


def exception_response(exc: web.HTTPException) -> web.Response:
    """aiohttp's own 404/405/413 turned into the API's JSON error shape."""
    headers = {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else None
    slug = _SLUGS.get(exc.status, "error")
    return json_response({"error": slug, "message": exc.reason}, exc.status, headers)


def not_found(what: str) -> HTTPError:
    """404 ``not_found`` for ``what``."""
    return HTTPError(404, "not_found", f"{what} not found")


def bad_request(message: str, error: str = "invalid_request") -> HTTPError:
    """400 with ``error`` as its slug."""
    return HTTPError(400, error, message)


def conflict(error: str, message: str) -> HTTPError:
    """409 with ``error`` as its slug (a taken name, a locked or stopped resource)."""
    return HTTPError(409, error, message)


def abort(request: web.Request) -> None:
    """Drop the request's connection without answering."""
    transport = request.transport
    if transport is not None:
        transport.abort()
