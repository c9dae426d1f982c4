"""Request bodies shared by several resources: input files and ``.env`` text.

Input files go out as ``[{"filename", "content": base64}]``, as for executions (the key
the C, Python and Go clients send). An environment given as a mapping becomes
``KEY=VALUE`` lines; a value that is not plain (spaces, quotes, ``#``, newlines, ...) is
double-quoted with JSON escapes, the ``.env`` convention the server's parser follows in
the fake. The vault holds at most :data:`ENV_VAULT_LIMIT` bytes (spec §3.5, ``C:50``).
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Mapping
from typing import Any

from un_async.core.errors import ValidationError
from un_async.core.execution_options import InputFiles
from un_async.core.models import InputFile

__all__ = ["ENV_VAULT_LIMIT", "env_text", "input_files_payload"]

ENV_VAULT_LIMIT = 64 * 1024
"""Bytes of ``.env`` text a service's environment vault accepts."""

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_PLAIN_VALUE = re.compile(r"[^\s#'\"\\]*")


def _input_file(name: Any, content: Any) -> InputFile:
    if isinstance(content, str):
        return InputFile.from_text(name, content)
    if not isinstance(content, bytes | bytearray | memoryview):
        raise ValidationError(f"input file {name!r}: content must be bytes or str")
    return InputFile(filename=name, content=bytes(content))


def input_files_payload(files: InputFiles) -> list[dict[str, str]]:
    """``files`` (``{name: content}``, ``(name, content)`` pairs or :class:`InputFile`
    objects) as the wire's list, each file base64-encoded; names must be unique."""
    if isinstance(files, Mapping):
        items = [_input_file(name, content) for name, content in files.items()]
    else:
        items = [
            item if isinstance(item, InputFile) else _input_file(*_pair(item)) for item in files
        ]
    names = [item.filename for item in items]
    if len(set(names)) != len(names):
        raise ValidationError("input_files contains the same filename twice")
    return [
        {"filename": item.filename, "content": base64.b64encode(item.content).decode("ascii")}
        for item in items
    ]


def _pair(item: object) -> tuple[Any, Any]:
    if isinstance(item, tuple | list) and len(item) == 2:
        return item[0], item[1]
    raise ValidationError("input_files items must be InputFile objects or (name, content) pairs")


def env_text(env: Mapping[str, str] | str) -> str:
    """The ``.env`` text to upload: ``env`` itself when it is text, else one
    ``KEY=VALUE`` line per variable. Raises :class:`ValidationError` for a bad name or
    value, or when the text exceeds :data:`ENV_VAULT_LIMIT` bytes."""
    if isinstance(env, str):
        text = env
    elif isinstance(env, Mapping):
        lines = []
        for key, value in env.items():
            if not isinstance(key, str) or not _ENV_NAME.fullmatch(key):
                raise ValidationError(f"invalid environment variable name {key!r}")
            if not isinstance(value, str) or "\x00" in value:
                raise ValidationError(f"environment variable {key!r} must be a string without NUL")
            shown = (
                value if _PLAIN_VALUE.fullmatch(value) else json.dumps(value, ensure_ascii=False)
            )
            lines.append(f"{key}={shown}\n")
        text = "".join(lines)
    else:
        raise ValidationError("env must be a mapping of names to strings, or .env text")
    try:
        size = len(text.encode("utf-8"))
    except UnicodeEncodeError:
        raise ValidationError("the environment is not encodable as UTF-8") from None
    if size > ENV_VAULT_LIMIT:
        raise ValidationError(
            f"the environment is {size} bytes; a service vault holds at most "
            f"{ENV_VAULT_LIMIT // 1024} KB"
        )
    return text
