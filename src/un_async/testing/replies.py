"""HTTP error replies and request-payload checks shared by the fake server's handlers."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from .state import NETWORK_MODES

__all__ = [
    "HTTPError",
    "abort",
    "bad_request",
    "check_env",
    "decode_files",
    "exception_response",
    "flag",
    "int_in_range",
    "json_response",
    "not_found",
    "parse_network_mode",
    "parse_object",
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


def abort(request: web.Request) -> None:
    """Drop the request's connection without answering."""
    transport = request.transport
    if transport is not None:
        transport.abort()


def parse_object(body: bytes, *, allow_empty: bool) -> dict[str, Any]:
    """The body as a JSON object; an empty body is ``{}`` when ``allow_empty``."""
    if not body.strip():
        if allow_empty:
            return {}
        raise bad_request("request body must be a JSON object")
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, ValueError) as exc:
        raise bad_request(f"invalid JSON: {exc}", "invalid_json") from None
    if not isinstance(data, dict):
        raise bad_request("request body must be a JSON object")
    return data


def int_in_range(payload: Mapping[str, Any], key: str, low: int, high: int) -> int | None:
    """``payload[key]`` checked to be an int within ``[low, high]`` (``None`` if absent)."""
    value = payload.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise bad_request(f"{key} must be an integer between {low} and {high}")
    return value


def flag(payload: Mapping[str, Any], *keys: str, default: bool = False) -> bool:
    """The first of ``keys`` present, checked to be a boolean."""
    for key in keys:
        if key in payload:
            value = payload[key]
            if not isinstance(value, bool):
                raise bad_request(f"{key} must be a boolean")
            return value
    return default


def parse_network_mode(payload: Mapping[str, Any]) -> str:
    """``network_mode`` (or ``network``), default ``zerotrust``."""
    value = payload.get("network_mode", payload.get("network", "zerotrust"))
    if value not in NETWORK_MODES:
        raise bad_request("network_mode must be 'zerotrust' or 'semitrusted'")
    return str(value)


def check_env(value: Any) -> None:
    """``env`` must be absent or an object of string values."""
    if value is None:
        return
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise bad_request("env must be an object of string values")


def decode_files(value: Any) -> dict[str, bytes]:
    """Validate ``input_files`` (``content`` or ``content_base64``, both base64)."""
    if value is None:
        return {}
    if not isinstance(value, list):
        raise bad_request("input_files must be an array")
    files: dict[str, bytes] = {}
    for item in value:
        if not isinstance(item, dict) or not isinstance(item.get("filename"), str):
            raise bad_request("each input file needs a filename")
        encoded = item.get("content", item.get("content_base64"))
        if not isinstance(encoded, str):
            raise bad_request(f"input file {item['filename']!r} has no base64 content")
        try:
            files[item["filename"]] = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            raise bad_request(f"input file {item['filename']!r}: invalid base64") from None
    return files
