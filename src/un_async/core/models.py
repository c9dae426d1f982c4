"""Immutable data models shared by every backend.

Requests are validated on construction (a bad value raises :class:`ValidationError`
before anything is sent). Results are read-only mappings *and* attribute objects:
``result["stdout"]``, ``result.get("stdout")`` and ``result.stdout`` all work. The mapping
view is the server's JSON object, with the documented keys (``job_id``/``id``, ``status``,
``stdout``, ``stderr``, ``exit_code``, ``language``, ``duration_ms``) filled in when the
server used an alias or left them out; attributes are typed and normalised.
"""

from __future__ import annotations

import difflib
import enum
import re
from collections.abc import Collection, Iterator, Mapping
from types import MappingProxyType
from typing import Any, ClassVar

import attrs

from un_async.core.errors import ValidationError

__all__ = [
    "NETWORK_MODES",
    "Artifact",
    "ExecutionRequest",
    "ExecutionResult",
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


class JobStatus(enum.StrEnum):
    """A job's lifecycle state. Values the SDK does not know map to ``UNKNOWN``."""

    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    TIMEOUT = "timeout"
    CANCELLED = "cancelled"
    UNKNOWN = "unknown"

    @classmethod
    def parse(cls, value: object) -> JobStatus:
        """Map a wire value to a member; anything unrecognised becomes ``UNKNOWN``."""
        if isinstance(value, str):
            try:
                return cls(value.strip().lower())
            except ValueError:
                return cls.UNKNOWN
        return cls.UNKNOWN

    @property
    def is_terminal(self) -> bool:
        """True for completed, failed, timeout and cancelled; unknown states are not terminal."""
        return self in _TERMINAL


_TERMINAL = frozenset(
    {JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.TIMEOUT, JobStatus.CANCELLED}
)


class Record(Mapping[str, Any]):
    """A read-only mapping over a server object that also allows attribute access.

    Used for replies whose shape the protocol does not pin down (cancel, restore, delete).
    """

    __slots__ = ("_data",)

    def __init__(self, data: Mapping[str, Any] | None = None) -> None:
        self._data: Mapping[str, Any] = MappingProxyType(dict(data or {}))

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self._data[name]
        except KeyError:
            raise AttributeError(f"{type(self).__name__} has no field {name!r}") from None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({dict(self._data)!r})"

    def to_dict(self) -> dict[str, Any]:
        """A plain, mutable copy of the mapping view."""
        return dict(self._data)


class _WireView(Mapping[str, Any]):
    """Mapping behaviour for attrs models: reads go to a ``_view`` dict (the documented
    keys, then ``raw`` over them), built on first mapping access — most results are only
    ever read through attributes, so building it eagerly would cost every poll."""

    __slots__ = ()
    _view: Mapping[str, Any] | None
    raw: Mapping[str, Any]

    def _documented(self) -> dict[str, Any]:
        raise NotImplementedError

    @property
    def _mapping(self) -> Mapping[str, Any]:
        view = self._view
        if view is None:
            data = self._documented()
            data.update(self.raw)
            view = MappingProxyType(data)
            object.__setattr__(self, "_view", view)
        return view

    def __getitem__(self, key: str) -> Any:
        return self._mapping[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._mapping)

    def __len__(self) -> int:
        return len(self._mapping)

    def to_dict(self) -> dict[str, Any]:
        """A plain, mutable copy of the mapping view."""
        return dict(self._mapping)


def _count_repr(unit: str) -> Any:
    """An attrs ``repr`` that shows only a size, never the content."""
    return lambda value: f"<{len(value)} {unit}>"


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
    content: bytes = attrs.field(repr=_count_repr("bytes"))

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


@attrs.frozen(kw_only=True)
class Artifact:
    """A file the sandbox returned (``return_artifact=True``), already base64-decoded."""

    filename: str
    content: bytes = attrs.field(repr=_count_repr("bytes"))


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
    if not value.strip():
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


def _freeze_env(value: Mapping[str, str] | None) -> Mapping[str, str]:
    if value is None:
        return MappingProxyType({})
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
    return MappingProxyType(dict(value))


def _freeze_files(value: Any) -> tuple[InputFile, ...]:
    if value is None:
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
    code: str = attrs.field(validator=_validate_code, repr=_count_repr("chars"))
    env: Mapping[str, str] = attrs.field(
        factory=dict, converter=_freeze_env, repr=_count_repr("vars")
    )
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


@attrs.frozen(kw_only=True, eq=False)
class ExecutionResult(_WireView):
    """A job's state: final for a finished execution, or pending/running while it runs.

    A program that exits non-zero is a normal result (``exit_code`` != 0), not an error.
    ``duration_ms`` is read from ``execution_time_ms``, ``duration_ms``, ``total_time_ms``
    or ``execution_time``, whichever the server sent.
    """

    DOCUMENTED: ClassVar[tuple[str, ...]] = (
        "job_id",
        "status",
        "stdout",
        "stderr",
        "exit_code",
        "language",
        "duration_ms",
    )

    job_id: str | None = None
    status: JobStatus = JobStatus.UNKNOWN
    raw_status: str | None = None
    stdout: str = ""
    stderr: str = ""
    exit_code: int | None = None
    language: str | None = None
    duration_ms: int | None = None
    error: str | None = None
    artifacts: tuple[Artifact, ...] = ()
    raw: Mapping[str, Any] = attrs.field(factory=dict, repr=False)
    _view: Mapping[str, Any] | None = attrs.field(default=None, init=False, repr=False)

    def _documented(self) -> dict[str, Any]:
        documented = {name: getattr(self, name) for name in self.DOCUMENTED}
        documented["status"] = self.raw_status or self.status.value
        if self.job_id is not None:
            documented["id"] = self.job_id
        return documented

    @property
    def is_final(self) -> bool:
        """True when the job reached a terminal status."""
        return self.status.is_terminal

    @property
    def success(self) -> bool:
        """The server's ``success`` flag, else: completed with exit code 0 and no error."""
        flag = self.raw.get("success")
        if isinstance(flag, bool):
            return flag
        return self.status is JobStatus.COMPLETED and self.exit_code == 0 and not self.error


@attrs.frozen(kw_only=True, eq=False)
class JobInfo(_WireView):
    """One entry of ``list_jobs()``: ``job["id"]`` and ``job["job_id"]`` both give the id."""

    job_id: str
    status: JobStatus = JobStatus.UNKNOWN
    raw_status: str | None = None
    language: str | None = None
    created_at: Any = None
    completed_at: Any = None
    error: str | None = None
    raw: Mapping[str, Any] = attrs.field(factory=dict, repr=False)
    _view: Mapping[str, Any] | None = attrs.field(default=None, init=False, repr=False)

    def _documented(self) -> dict[str, Any]:
        return {
            "id": self.job_id,
            "job_id": self.job_id,
            "status": self.raw_status or self.status.value,
            "language": self.language,
        }


@attrs.frozen(kw_only=True, eq=False)
class Snapshot(_WireView):
    """One snapshot as listed by ``list_snapshots()``; ``snap["id"]`` gives its id."""

    id: str
    name: str | None = None
    source_type: str | None = None
    source_id: str | None = None
    size_bytes: int | None = None
    hot: bool | None = None
    locked: bool | None = None
    created_at: Any = None
    raw: Mapping[str, Any] = attrs.field(factory=dict, repr=False)
    _view: Mapping[str, Any] | None = attrs.field(default=None, init=False, repr=False)

    def _documented(self) -> dict[str, Any]:
        return {"id": self.id, "snapshot_id": self.id, "name": self.name}
