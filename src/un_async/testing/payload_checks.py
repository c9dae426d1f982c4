"""Request-payload parsing and validation shared by the fake server's handlers.

Each function reads one field (or the whole body) and raises a 400
:class:`~.http_replies.HTTPError` naming the field when it is malformed.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from typing import Any

from .http_replies import bad_request

__all__ = [
    "NETWORK_MODES",
    "check_env",
    "decode_files",
    "flag",
    "int_in_range",
    "optional_string",
    "parse_network_mode",
    "parse_object",
    "parse_ports",
    "string_list",
]

NETWORK_MODES = frozenset({"zerotrust", "semitrusted"})


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


def optional_string(payload: Mapping[str, Any], key: str) -> str | None:
    """``payload[key]`` checked to be a string (``None`` if absent or null)."""
    value = payload.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise bad_request(f"{key} must be a string")
    return value


def string_list(payload: Mapping[str, Any], key: str) -> list[str] | None:
    """``payload[key]`` checked to be an array of strings (``None`` if absent)."""
    value = payload.get(key)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise bad_request(f"{key} must be an array of strings")
    return list(value)


def parse_ports(payload: Mapping[str, Any], key: str = "ports") -> list[int]:
    """Ports as an int array (Python, JS) or a comma-separated string (C, spec §3.7);
    each within 1-65535. Absent: no ports."""
    value = payload.get(key)
    if value is None:
        return []
    items: list[Any]
    if isinstance(value, str):
        items = [part.strip() for part in value.split(",") if part.strip()]
        if not all(part.isascii() and part.isdigit() for part in items):
            raise bad_request(f"{key} must list port numbers")
        items = [int(part) for part in items]
    elif isinstance(value, list):
        items = value
    else:
        raise bad_request(f"{key} must be an array of integers")
    if not all(isinstance(p, int) and not isinstance(p, bool) and 1 <= p <= 65535 for p in items):
        raise bad_request(f"{key} must be integers between 1 and 65535")
    return list(items)


def parse_network_mode(payload: Mapping[str, Any], default: str = "zerotrust") -> str:
    """``network_mode`` (or the bash client's ``network``), else ``default``."""
    value = payload.get("network_mode", payload.get("network", default))
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
