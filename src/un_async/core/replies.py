"""Reply models: every result, job entry, snapshot and resource reply *is* a ``dict``.

A reply is the server's JSON object with the documented keys filled in where the server
left them out (``DEFAULTS`` of each class), so ``isinstance(r, dict)``, ``json.dumps(r)``,
``r.copy()`` and ``dict(r)`` behave as with the plain dicts other clients return. On top of
the mapping, attributes give typed, normalised values: ``result.status`` is a
:class:`JobStatus`, ``result.exit_code`` an ``int`` or ``None``, ``result.artifacts``
decoded files.

Mutation: replies are ordinary mutable dicts. Attributes are read from the mapping on
every access, so after ``result["stdout"] = "x"`` also ``result.stdout == "x"``; they never
disagree with the mapping. Attributes cannot be assigned (``result.stdout = ...`` raises
:class:`AttributeError`): change the mapping instead. ``copy()`` returns a shallow copy of
the same class; ``to_dict()`` a plain ``dict``.

``repr`` shows identifying fields and the sizes of long texts, never output wholesale;
:class:`Record` masks values under secret-looking keys.
"""

from __future__ import annotations

import base64
import enum
import re
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar, Self

import attrs

__all__ = [
    "Artifact",
    "ExecutionResult",
    "JobInfo",
    "JobStatus",
    "Record",
    "Snapshot",
    "decode_artifacts",
]


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
_STATUSES: dict[str, JobStatus] = {status.value: status for status in JobStatus}
_FINAL: dict[str, bool] = {status.value: status in _TERMINAL for status in JobStatus}


def count_repr(unit: str) -> Any:
    """An attrs ``repr`` that shows only a size, never the content."""
    return lambda value: f"<{len(value)} {unit}>"


@attrs.frozen(kw_only=True)
class Artifact:
    """A file the sandbox returned (``return_artifact=True``), already base64-decoded."""

    filename: str
    content: bytes = attrs.field(repr=count_repr("bytes"))


# -- normalising wire values ----------------------------------------------------------------


def text_of(value: Any) -> str:
    """A string field: non-strings become their ``str``, ``None`` becomes ``""``."""
    return value if isinstance(value, str) else ("" if value is None else str(value))


def optional_text(value: Any) -> str | None:
    """A non-empty string, else ``None``."""
    return value if isinstance(value, str) and value else None


def optional_int(value: Any) -> int | None:
    """An integer field: ints, integral floats and numeric strings; anything else ``None``."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value == value:
        return int(value)
    if isinstance(value, str):
        try:
            return int(float(value))
        except ValueError:
            return None
    return None


def decode_artifacts(value: Any) -> tuple[Artifact, ...]:
    """The files of a reply's ``artifacts`` list (``content_base64`` or ``content``, base64).

    Entries that are not objects are skipped; invalid base64 raises :class:`ValueError`.
    """
    if not isinstance(value, list):
        return ()
    return tuple(
        Artifact(
            filename=text_of(item.get("filename")),
            content=base64.b64decode(
                text_of(item.get("content_base64", item.get("content"))), validate=True
            ),
        )
        for item in value
        if isinstance(item, Mapping)
    )


def _encode_artifacts(artifacts: Iterable[Artifact]) -> list[dict[str, str]]:
    return [
        {
            "filename": item.filename,
            "content_base64": base64.b64encode(item.content).decode("ascii"),
        }
        for item in artifacts
    ]


# -- repr helpers -----------------------------------------------------------------------------

_SHOWN_CHARS = 40
_SECRET_KEY = re.compile(r"secret|password|passwd|token|signature|otp|private|credential", re.I)


class _Hidden:
    def __repr__(self) -> str:
        return "<hidden>"


_HIDDEN = _Hidden()


def _short(value: Any) -> str:
    """``repr`` of a value, long strings cut to a prefix and their size."""
    if isinstance(value, str) and len(value) > _SHOWN_CHARS:
        return f"{value[:_SHOWN_CHARS]!r}…<{len(value)} chars>"
    if isinstance(value, Mapping | list) and len(value) > 8:
        return f"<{type(value).__name__} of {len(value)}>"
    return repr(value)


def _fields_repr(name: str, fields: Iterable[tuple[str, Any]]) -> str:
    return f"{name}({', '.join(f'{key}={_short(value)}' for key, value in fields)})"


# -- the base -------------------------------------------------------------------------------


class _Reply(dict[str, Any]):
    """A reply mapping: one ``dict``, documented keys filled from ``DEFAULTS``."""

    __slots__ = ()
    DEFAULTS: ClassVar[Mapping[str, Any]] = {}
    """The documented keys every instance has, with the values used when a reply lacks them."""

    @classmethod
    def _adopt(cls, data: Mapping[str, Any]) -> Self:
        """``DEFAULTS`` overlaid with ``data``, without further checks (codecs use it on the
        polling hot path; ``data`` is copied once, into the new instance)."""
        reply = dict.__new__(cls)
        dict.update(reply, cls.DEFAULTS)
        dict.update(reply, data)
        return reply

    def _fill(
        self, data: Mapping[str, Any] | None, raw: Mapping[str, Any] | None, given: dict[str, Any]
    ) -> None:
        """The keyword constructor's work: defaults, then ``data``/``raw``, then the keyword
        arguments that were given (not ``None``)."""
        dict.update(self, self.DEFAULTS)
        if data is not None:
            dict.update(self, data)
        if raw is not None:
            dict.update(self, raw)
        for key, value in given.items():
            if value is not None:
                self[key] = value

    def copy(self) -> Self:
        """A shallow copy of the same class (attributes included)."""
        clone = dict.__new__(type(self))
        dict.update(clone, self)
        return clone

    def to_dict(self) -> dict[str, Any]:
        """A plain ``dict`` copy."""
        return dict(self)

    @property
    def raw(self) -> Mapping[str, Any]:
        """The reply's mapping: the instance itself (kept for code written for earlier
        versions, where the server's object was a separate attribute)."""
        return self


class Record(_Reply):
    """A generic reply (cancel, restore, delete, resource replies): a ``dict`` whose keys are
    also attributes (``record.status``); a missing key raises :class:`AttributeError`.

    Keys that are also ``dict`` method names (``items``, ``copy``, ``update``, ...) are read
    with ``record["..."]``. Typed resource replies subclass it.
    """

    __slots__ = ()

    def __init__(
        self, data: Mapping[str, Any] | Iterable[tuple[str, Any]] | None = None, /, **fields: Any
    ) -> None:
        dict.__init__(self, data or (), **fields)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self[name]
        except KeyError:
            raise AttributeError(f"{type(self).__name__} has no field {name!r}") from None

    def __repr__(self) -> str:
        return _fields_repr(
            type(self).__name__,
            ((key, _HIDDEN if _SECRET_KEY.search(key) else value) for key, value in self.items()),
        )


# -- results ---------------------------------------------------------------------------------


class ExecutionResult(_Reply):
    """A job's state: final for a finished execution, or pending/running while it runs.

    The mapping is the server's reply plus :attr:`DEFAULTS` for documented keys it lacked
    (``job_id`` and ``id`` both hold the id). Attributes are typed views of the mapping. A
    program that exits non-zero is a normal result (``exit_code`` != 0), not an error.

    ``reason`` says why a run ended where the backend knows it (``exit``, ``signal``,
    ``time``, ``memory``, ``output``, ``file_size``, ``compile``, ``sandbox``), else
    ``None``; ``truncated`` is True when output was cut at a limit; ``isolation`` describes
    the sandbox a local run had (``level``, ``network``, ``filesystem``, ``warnings``).

    Built with keywords (``ExecutionResult(job_id=..., status=JobStatus.RUNNING)``) by
    backends and tests; a positional mapping (or ``raw=``) supplies further keys.
    """

    __slots__ = ("_artifacts",)
    _artifacts: tuple[Any, tuple[Artifact, ...]]

    DEFAULTS: ClassVar[Mapping[str, Any]] = {
        "job_id": None,
        "id": None,
        "status": JobStatus.UNKNOWN.value,
        "stdout": "",
        "stderr": "",
        "exit_code": None,
        "language": None,
        "duration_ms": None,
        "reason": None,
        "truncated": False,
        "isolation": None,
    }
    DOCUMENTED: ClassVar[tuple[str, ...]] = tuple(DEFAULTS)

    def __init__(
        self,
        data: Mapping[str, Any] | None = None,
        /,
        *,
        job_id: str | None = None,
        status: JobStatus | str | None = None,
        raw_status: str | None = None,
        stdout: str | None = None,
        stderr: str | None = None,
        exit_code: int | None = None,
        language: str | None = None,
        duration_ms: int | None = None,
        error: str | None = None,
        artifacts: Iterable[Artifact] | None = None,
        reason: str | None = None,
        truncated: bool | None = None,
        isolation: Mapping[str, Any] | None = None,
        raw: Mapping[str, Any] | None = None,
    ) -> None:
        if raw_status is None and status is not None:
            raw_status = status.value if isinstance(status, JobStatus) else status
        self._fill(
            data,
            raw,
            {
                "job_id": job_id,
                "status": raw_status,
                "stdout": stdout,
                "stderr": stderr,
                "exit_code": exit_code,
                "language": language,
                "duration_ms": duration_ms,
                "error": error,
                "reason": reason,
                "truncated": truncated,
                "isolation": None if isolation is None else dict(isolation),
            },
        )
        if artifacts is not None:
            decoded = tuple(artifacts)
            self["artifacts"] = listed = _encode_artifacts(decoded)
            self._artifacts = (listed, decoded)
        if self.get("job_id") is None:
            self["job_id"] = optional_text(self.get("id"))
        if self.get("id") is None:
            self["id"] = self["job_id"]

    @property
    def job_id(self) -> str | None:
        """The job's id (``job_id``, else ``id``), or ``None`` for a reply without one."""
        value = self.get("job_id")
        if isinstance(value, str) and value:
            return value
        return optional_text(self.get("id"))

    @property
    def status(self) -> JobStatus:
        """The parsed ``status``; values the SDK does not know are ``UNKNOWN``."""
        value = self.get("status")
        status = _STATUSES.get(value) if type(value) is str else None
        return status if status is not None else JobStatus.parse(value)

    @property
    def raw_status(self) -> str | None:
        """``status`` as the mapping holds it, when it is a string."""
        value = self.get("status")
        return value if isinstance(value, str) else None

    @property
    def stdout(self) -> str:
        value = self.get("stdout")
        return value if type(value) is str else text_of(value)

    @property
    def stderr(self) -> str:
        value = self.get("stderr")
        return value if type(value) is str else text_of(value)

    @property
    def exit_code(self) -> int | None:
        value = self.get("exit_code")
        return value if type(value) is int else optional_int(value)

    @property
    def language(self) -> str | None:
        return optional_text(self.get("language"))

    @property
    def duration_ms(self) -> int | None:
        """Run time in milliseconds (backends fill ``duration_ms`` from their own field)."""
        value = self.get("duration_ms")
        return value if type(value) is int else optional_int(value)

    @property
    def error(self) -> str | None:
        """The server's error text for a failed job, if any."""
        return optional_text(self.get("error"))

    @property
    def reason(self) -> str | None:
        return optional_text(self.get("reason"))

    @property
    def truncated(self) -> bool:
        return self.get("truncated") is True

    @property
    def isolation(self) -> Mapping[str, Any] | None:
        value = self.get("isolation")
        return value if isinstance(value, Mapping) else None

    @property
    def artifacts(self) -> tuple[Artifact, ...]:
        """The returned files, decoded (once per ``artifacts`` list the mapping holds)."""
        source = self.get("artifacts")
        cached: tuple[Any, tuple[Artifact, ...]] | None = getattr(self, "_artifacts", None)
        if cached is not None and cached[0] is source:
            return cached[1]
        decoded = decode_artifacts(source)
        self._artifacts = (source, decoded)
        return decoded

    @property
    def is_final(self) -> bool:
        """True when the job reached a terminal status."""
        value = self.get("status")
        final = _FINAL.get(value) if type(value) is str else None
        return final if final is not None else JobStatus.parse(value).is_terminal

    @property
    def success(self) -> bool:
        """The server's ``success`` flag, else: completed with exit code 0 and no error."""
        flag = self.get("success")
        if isinstance(flag, bool):
            return flag
        return self.status is JobStatus.COMPLETED and self.exit_code == 0 and not self.error

    def __repr__(self) -> str:
        fields: list[tuple[str, Any]] = [
            ("job_id", self.job_id),
            ("status", self.raw_status),
            ("exit_code", self.exit_code),
            ("stdout", self.stdout),
            ("stderr", self.stderr),
            ("duration_ms", self.duration_ms),
        ]
        fields += [
            (name, value)
            for name, value in (
                ("error", self.error),
                ("reason", self.reason),
                ("truncated", self.truncated or None),
            )
            if value is not None
        ]
        return _fields_repr("ExecutionResult", fields)


class JobInfo(_Reply):
    """One entry of ``list_jobs()``: ``job["id"]`` and ``job["job_id"]`` both give the id."""

    __slots__ = ()

    DEFAULTS: ClassVar[Mapping[str, Any]] = {
        "job_id": None,
        "id": None,
        "status": JobStatus.UNKNOWN.value,
        "language": None,
    }

    def __init__(
        self,
        data: Mapping[str, Any] | None = None,
        /,
        *,
        job_id: str | None = None,
        status: JobStatus | str | None = None,
        raw_status: str | None = None,
        language: str | None = None,
        created_at: Any = None,
        completed_at: Any = None,
        error: str | None = None,
        raw: Mapping[str, Any] | None = None,
    ) -> None:
        if raw_status is None and status is not None:
            raw_status = status.value if isinstance(status, JobStatus) else status
        self._fill(
            data,
            raw,
            {
                "job_id": job_id,
                "status": raw_status,
                "language": language,
                "created_at": created_at,
                "completed_at": completed_at,
                "error": error,
            },
        )
        if self.get("job_id") is None:
            self["job_id"] = optional_text(self.get("id"))
        if self.get("id") is None:
            self["id"] = self["job_id"]

    @property
    def job_id(self) -> str:
        """The job's id (``job_id``, else ``id``; ``""`` only if the mapping lost both)."""
        value = self.get("job_id")
        if isinstance(value, str) and value:
            return value
        return optional_text(self.get("id")) or ""

    @property
    def status(self) -> JobStatus:
        value = self.get("status")
        status = _STATUSES.get(value) if type(value) is str else None
        return status if status is not None else JobStatus.parse(value)

    @property
    def raw_status(self) -> str | None:
        value = self.get("status")
        return value if isinstance(value, str) else None

    @property
    def language(self) -> str | None:
        return optional_text(self.get("language"))

    @property
    def created_at(self) -> Any:
        return self.get("created_at")

    @property
    def completed_at(self) -> Any:
        return self.get("completed_at")

    @property
    def error(self) -> str | None:
        return optional_text(self.get("error"))

    def __repr__(self) -> str:
        return _fields_repr(
            "JobInfo",
            (("job_id", self.job_id), ("status", self.raw_status), ("language", self.language)),
        )


class Snapshot(_Reply):
    """One snapshot as listed by ``list_snapshots()``; ``snap["id"]`` and
    ``snap["snapshot_id"]`` both give its id."""

    __slots__ = ()

    DEFAULTS: ClassVar[Mapping[str, Any]] = {"id": None, "snapshot_id": None, "name": None}

    def __init__(
        self,
        data: Mapping[str, Any] | None = None,
        /,
        *,
        id: str | None = None,
        name: str | None = None,
        source_type: str | None = None,
        source_id: str | None = None,
        size_bytes: int | None = None,
        hot: bool | None = None,
        locked: bool | None = None,
        created_at: Any = None,
        raw: Mapping[str, Any] | None = None,
    ) -> None:
        self._fill(
            data,
            raw,
            {
                "id": id,
                "name": name,
                "source_type": source_type,
                "source_id": source_id,
                "size_bytes": size_bytes,
                "hot": hot,
                "locked": locked,
                "created_at": created_at,
            },
        )
        if self.get("id") is None:
            self["id"] = optional_text(self.get("snapshot_id"))
        if self.get("snapshot_id") is None:
            self["snapshot_id"] = self["id"]

    @property
    def id(self) -> str:
        """The snapshot's id (``id``, else ``snapshot_id``)."""
        return optional_text(self.get("id")) or optional_text(self.get("snapshot_id")) or ""

    @property
    def name(self) -> str | None:
        return optional_text(self.get("name"))

    @property
    def source_type(self) -> str | None:
        """``session`` or ``service`` (``source_type``, else ``type``)."""
        return optional_text(self.get("source_type")) or optional_text(self.get("type"))

    @property
    def source_id(self) -> str | None:
        """The snapshotted resource (``source_id``, ``session_id`` or ``service_id``)."""
        return (
            optional_text(self.get("source_id"))
            or optional_text(self.get("session_id"))
            or optional_text(self.get("service_id"))
        )

    @property
    def size_bytes(self) -> int | None:
        return optional_int(self.get("size_bytes"))

    @property
    def hot(self) -> bool | None:
        value = self.get("hot")
        return value if isinstance(value, bool) else None

    @property
    def locked(self) -> bool | None:
        value = self.get("locked")
        return value if isinstance(value, bool) else None

    @property
    def created_at(self) -> Any:
        return self.get("created_at")

    def __repr__(self) -> str:
        return _fields_repr(
            "Snapshot",
            (
                ("id", self.id),
                ("name", self.name),
                ("source_type", self.source_type),
                ("source_id", self.source_id),
                ("hot", self.hot),
                ("locked", self.locked),
            ),
        )
