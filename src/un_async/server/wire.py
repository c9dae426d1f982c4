"""The server's side of the wire format: execution requests in, error bodies out.

Request bodies follow spec §3.1, with the aliases other clients send: ``input_files``
entries carry ``content`` or ``content_base64``; ``network`` for ``network_mode``;
``return_artifacts`` for ``return_artifact``. Anything malformed is a
:class:`~un_async.core.errors.ValidationError` (answered 400).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from typing import Any

from un_async.core.errors import ValidationError

__all__ = ["ExecutionArguments", "error_body", "execution_arguments", "json_body"]

ExecutionArguments = dict[str, Any]
"""``language``, ``code`` and the execution options, as ``execute_async`` takes them."""


def json_body(raw: bytes) -> Any:
    """The request body parsed as JSON (an empty body is ``{}``)."""
    if not raw.strip():
        return {}
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValidationError(f"the request body is not JSON: {exc}") from None


def _input_files(value: Any) -> dict[str, bytes] | None:
    if value is None:
        return None
    if not isinstance(value, list):
        raise ValidationError("input_files must be a list of {filename, content} objects")
    files: dict[str, bytes] = {}
    for item in value:
        if not isinstance(item, Mapping) or not isinstance(item.get("filename"), str):
            raise ValidationError("each input file needs a filename and base64 content")
        encoded = item.get("content_base64", item.get("content", ""))
        if not isinstance(encoded, str):
            raise ValidationError(f"input file {item['filename']!r}: content must be base64")
        try:
            files[item["filename"]] = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            raise ValidationError(
                f"input file {item['filename']!r}: content is not valid base64"
            ) from None
    return files


def execution_arguments(body: Any) -> ExecutionArguments:
    """The arguments of one execution request body."""
    if not isinstance(body, Mapping):
        raise ValidationError("the request body must be a JSON object")
    language = body.get("language")
    code = body.get("code")
    if not isinstance(language, str) or not language:
        raise ValidationError("language is required")
    if not isinstance(code, str):
        raise ValidationError("code is required and must be a string")
    env = body.get("env")
    if env is not None and not isinstance(env, Mapping):
        raise ValidationError("env must be an object of strings")
    artifact = body.get("return_artifact", body.get("return_artifacts", False))
    return {
        "language": language,
        "code": code,
        "env": dict(env) if env else None,
        "input_files": _input_files(body.get("input_files")),
        "network_mode": body.get("network_mode", body.get("network")),
        "ttl": body.get("ttl"),
        "vcpu": body.get("vcpu"),
        "return_artifact": artifact is True,
    }


def error_body(error: str, message: str) -> dict[str, str]:
    """The service's error shape: ``{"error": code, "message": text}``."""
    return {"error": error, "message": message}
