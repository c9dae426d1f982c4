"""Data models shared by every backend.

Requests (:class:`ExecutionRequest`, :class:`InputFile`) are immutable and validated on
construction: a bad value raises :class:`ValidationError` before anything is sent. Replies
(:class:`ExecutionResult`, :class:`JobInfo`, :class:`Snapshot`, :class:`Record`) are
``dict`` instances with typed attributes; they live in :mod:`un_async.core.replies` and
are re-exported here.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Collection, Mapping
from typing import Any, NoReturn

import attrs

from un_async.core.errors import ValidationError
from un_async.core.replies import (
    Artifact,
    ExecutionResult,
    JobInfo,
    JobStatus,
    Record,
    Snapshot,
    count_repr,
)

__all__ = [
    "NETWORK_MODES",
    "Artifact",
    "ExecutionRequest",
    "ExecutionResult",
    "FrozenEnv",
    "InputFile",
    "JobInfo",
    "JobStatus",
    "Record",
    "Snapshot",
    "check_known_language",
]

NETWORK_MODES = ("zerotrust", "semitrusted")
TTL_RANGE = (1, 900)
VCPU_RANGE = (1, 8)
MAX_ENV_VARS = 256
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_LANGUAGE = re.compile(r"^[a-z][a-z0-9_+#.-]{0,31}$")


def _require_utf8(what: str, text: str) -> None:
    """Text the wire cannot carry (lone surrogates) fails here, not at send time."""
    if text.isascii():
        return
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValidationError(
            f"{what} is not encodable as UTF-8: {text[exc.start]!r} at index {exc.start}"
        ) from None


def _check_filename(name: str) -> str:
    if not isinstance(name, str):
        raise ValidationError(f"input file name must be a string, not {type(name).__name__}")
    if not name or "\x00" in name or name in {".", ".."} or len(name) > 4096:
        raise ValidationError(f"invalid input file name {name!r}")
    _require_utf8("input file name", name)
    return name


@attrs.frozen(kw_only=True)
class InputFile:
    """A file placed in the sandbox's working directory (sent base64-encoded)."""

    filename: str = attrs.field(converter=_check_filename)
    content: bytes = attrs.field(repr=count_repr("bytes"))

    @content.validator
    def _content_is_bytes(self, _: attrs.Attribute[bytes], value: object) -> None:
        if not isinstance(value, bytes | bytearray | memoryview):
            raise ValidationError(f"input file {self.filename!r}: content must be bytes")

    @classmethod
    def from_text(cls, filename: str, text: str) -> InputFile:
        """Build an input file from text, encoded as UTF-8."""
        if not isinstance(text, str):
            raise ValidationError(f"input file {filename!r}: content must be bytes or str")
        _require_utf8(f"input file {filename!r}", text)
        return cls(filename=filename, content=text.encode("utf-8"))


def _validate_language(_: Any, __: Any, value: Any) -> None:
    if not isinstance(value, str) or not _LANGUAGE.fullmatch(value):
        raise ValidationError(
            f"invalid language {value!r}: expected a lower-case identifier such as 'python'"
        )


def check_known_language(language: str, known: Collection[str]) -> None:
    """Raise :class:`ValidationError` naming close matches when ``known`` (the service's
    language list) is non-empty and lacks ``language``; an empty list checks nothing."""
    if not known or language in known:
        return
    close = difflib.get_close_matches(language, list(known), n=3, cutoff=0.6)
    hint = f"; did you mean {' or '.join(map(repr, close))}?" if close else ""
    raise ValidationError(
        f"unknown language {language!r}{hint} (the service offers {len(known)} languages; "
        "see get_languages())"
    )


def _validate_code(_: Any, __: Any, value: Any) -> None:
    if not isinstance(value, str):
        raise ValidationError(f"code must be a string, not {type(value).__name__}")
    if not value or value.isspace():
        raise ValidationError("code is empty")
    _require_utf8("code", value)


def _validate_range(name: str, bounds: tuple[int, int]) -> Any:
    low, high = bounds

    def check(_: Any, __: Any, value: object) -> None:
        if value is None:
            return
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ValidationError(f"{name} must be an integer from {low} to {high}, got {value!r}")

    return check


def _validate_network_mode(_: Any, __: Any, value: object) -> None:
    if value is not None and value not in NETWORK_MODES:
        raise ValidationError(f"network_mode must be one of {NETWORK_MODES}, got {value!r}")


class FrozenEnv(dict[str, str]):
    """A request's environment variables: a read-only ``dict`` (so it serialises to JSON
    as it is, without a copy). Changing it raises :class:`TypeError`; ``repr`` shows only
    the number of variables (values may be secrets)."""

    __slots__ = ()

    def __setitem__(self, key: str, value: str) -> NoReturn:
        raise _read_only()

    def __delitem__(self, key: str) -> NoReturn:
        raise _read_only()

    def __ior__(self, other: Any) -> NoReturn:  # type: ignore[misc]
        raise _read_only()

    def setdefault(self, *args: Any) -> NoReturn:
        raise _read_only()

    def pop(self, *args: Any) -> NoReturn:
        raise _read_only()

    def popitem(self) -> NoReturn:
        raise _read_only()

    def clear(self) -> NoReturn:
        raise _read_only()

    def update(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise _read_only()

    def __hash__(self) -> int:  # type: ignore[override]
        return hash(frozenset(self.items()))

    def __reduce__(self) -> tuple[type[FrozenEnv], tuple[dict[str, str]]]:
        return (FrozenEnv, (dict(self),))

    def __repr__(self) -> str:
        return f"FrozenEnv(<{len(self)} vars>)"


def _read_only() -> TypeError:
    return TypeError("a request's env is read-only; build a new request to change it")


_NO_ENV = FrozenEnv()


def _freeze_env(value: Mapping[str, str] | None) -> FrozenEnv:
    if value is None or (not value and isinstance(value, Mapping)):
        return _NO_ENV
    if isinstance(value, FrozenEnv):
        return value  # validated when it was frozen
    if not isinstance(value, Mapping):
        raise ValidationError("env must be a mapping of variable names to string values")
    if len(value) > MAX_ENV_VARS:
        raise ValidationError(f"env has {len(value)} variables; at most {MAX_ENV_VARS} are allowed")
    for key, item in value.items():
        if not isinstance(key, str) or not _ENV_NAME.fullmatch(key):
            raise ValidationError(f"invalid environment variable name {key!r}")
        if not isinstance(item, str) or "\x00" in item:
            raise ValidationError(f"environment variable {key!r} must be a string without NUL")
        _require_utf8(f"environment variable {key!r}", item)
    return FrozenEnv(value)


def _freeze_files(value: Any) -> tuple[InputFile, ...]:
    if value is None or (type(value) is tuple and not value):
        return ()
    if isinstance(value, Mapping):
        items = [_coerce_file(name, content) for name, content in value.items()]
    else:
        items = [_file_item(item) for item in value]
    names = [item.filename for item in items]
    if len(set(names)) != len(names):
        raise ValidationError("input_files contains the same filename twice")
    return tuple(items)


def _file_item(item: Any) -> InputFile:
    if isinstance(item, InputFile):
        return item
    if isinstance(item, tuple | list) and len(item) == 2:
        return _coerce_file(*item)
    raise ValidationError("input_files items must be InputFile objects or (name, content) pairs")


def _coerce_file(name: str, content: bytes | str) -> InputFile:
    if isinstance(content, str):
        return InputFile.from_text(name, content)
    if not isinstance(content, bytes | bytearray | memoryview):
        raise ValidationError(
            f"input file {name!r}: content must be bytes or str, not {type(content).__name__}"
        )
    return InputFile(filename=name, content=bytes(content))


@attrs.frozen(kw_only=True)
class ExecutionRequest:
    """One code execution, validated against the service's documented limits.

    ``input_files`` accepts :class:`InputFile` objects, ``(filename, bytes)`` pairs or a
    ``{filename: bytes}`` mapping. ``None`` options are omitted from the wire request so
    the server's defaults apply.
    """

    language: str = attrs.field(validator=_validate_language)
    code: str = attrs.field(validator=_validate_code, repr=count_repr("chars"))
    env: FrozenEnv = attrs.field(default=None, converter=_freeze_env, repr=count_repr("vars"))
    input_files: tuple[InputFile, ...] = attrs.field(factory=tuple, converter=_freeze_files)
    network_mode: str | None = attrs.field(default=None, validator=_validate_network_mode)
    ttl: int | None = attrs.field(default=None, validator=_validate_range("ttl", TTL_RANGE))
    vcpu: int | None = attrs.field(default=None, validator=_validate_range("vcpu", VCPU_RANGE))
    return_artifact: bool = False

    def __hash__(self) -> int:
        return hash(
            (
                self.language,
                self.code,
                tuple(sorted(self.env.items())),
                self.input_files,
                self.network_mode,
                self.ttl,
                self.vcpu,
                self.return_artifact,
            )
        )
